/**
 * Telling people: one message to `notify-url` — a Slack incoming webhook (Slack's Block Kit payload,
 * with `text` as the fallback Slack asks for) or any URL taking JSON (a plain object). Redacted like
 * every output. A receiver that refuses or hangs gives a warning within `timeoutMs`, never a failure:
 * a notification must not fail an operation or hold up a rollback.
 */
import { httpGet } from '../health/http-get.js';
import type { Log } from '../log.js';

export type NotifyOn = 'failure' | 'always' | 'never';
export const NOTIFY_ON: readonly NotifyOn[] = ['failure', 'always', 'never'];

export interface Notice {
  /** What happened, e.g. `rollback`, `ops restart started`, `maintenance daily recovered`. */
  event: string;
  operation: string;
  outcome: 'started' | 'succeeded' | 'failed' | 'cancelled' | 'recovered';
  environment?: string;
  hosts: string[];
  actor?: string;
  /** Diagnose's judgement, when one was made. */
  severity?: string;
  /** One or two lines: what failed and what to do, or what changed. */
  detail?: string;
  runUrl?: string;
  at: string;
}

export interface NotifyTarget {
  url: URL;
  on: NotifyOn;
  timeoutMs: number;
}

/** Whether this outcome is told under `notify-on`. */
export function shouldNotify(on: NotifyOn, outcome: Notice['outcome']): boolean {
  if (on === 'never') return false;
  if (on === 'always') return true;
  return outcome === 'failed' || outcome === 'cancelled';
}

/**
 * Slack's incoming webhooks (hooks.slack.com, GovSlack's twin, and relays keeping Slack's
 * `/services/T…/B…/…` path) take Block Kit; any other URL gets plain JSON.
 */
export function isSlack(url: URL): boolean {
  return (
    /(^|\.)hooks\.slack(-gov)?\.com$/.test(url.hostname) ||
    /^\/services\/T[^/]+\/B[^/]+\/[^/]+$/.test(url.pathname)
  );
}

const ICON: Record<Notice['outcome'], string> = {
  started: ':arrow_forward:',
  succeeded: ':white_check_mark:',
  recovered: ':white_check_mark:',
  failed: ':rotating_light:',
  cancelled: ':warning:',
};

/** The one line a person reads first. */
export function headline(n: Notice): string {
  const where = [n.environment, n.hosts.length ? n.hosts.join(', ') : undefined].filter(Boolean).join(' · ');
  return `${n.severity ? `${n.severity} ` : ''}${n.event}: ${n.outcome}${where ? ` — ${where}` : ''}`;
}

/** Slack's mrkdwn: &, < and > are its control characters. */
const escapeSlack = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function slackPayload(n: Notice): Record<string, unknown> {
  const fields = [
    ['Operation', n.operation],
    ['Outcome', n.outcome],
    ...(n.environment ? [['Environment', n.environment]] : []),
    ...(n.hosts.length ? [['Hosts', n.hosts.join(', ')]] : []),
    ...(n.actor ? [['By', n.actor]] : []),
    ...(n.severity ? [['Severity', n.severity]] : []),
  ].map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${escapeSlack(v ?? '')}` }));
  return {
    text: `${ICON[n.outcome]} ${escapeSlack(headline(n))}`,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${ICON[n.outcome]} *${escapeSlack(headline(n))}*` } },
      // Slack takes at most 10 fields in a section.
      { type: 'section', fields: fields.slice(0, 10) },
      ...(n.detail
        ? [{ type: 'section', text: { type: 'mrkdwn', text: escapeSlack(n.detail.slice(0, 2900)) } }]
        : []),
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: `${n.at}${n.runUrl ? ` · <${n.runUrl}|the run>` : ''}` }],
      },
    ],
  };
}

export function jsonPayload(n: Notice): Record<string, unknown> {
  return { source: 'runbook-actions', summary: headline(n), ...n };
}

/**
 * Posts the notice (redacted by `redact`); true when the receiver answered 2xx. Never throws: a
 * receiver that fails or hangs past `timeoutMs` is a warning.
 */
export async function notify(
  target: NotifyTarget,
  notice: Notice,
  deps: { log: Log; redact: (text: string) => string },
): Promise<boolean> {
  const body = deps.redact(JSON.stringify(isSlack(target.url) ? slackPayload(notice) : jsonPayload(notice)));
  const where = `${target.url.protocol}//${target.url.host}`;
  try {
    const answer = await httpGet({
      url: target.url,
      method: 'POST',
      body,
      headers: { 'user-agent': 'runbook-actions' },
      timeoutMs: target.timeoutMs,
    });
    if (answer.statusCode >= 200 && answer.statusCode < 300) {
      deps.log.info(`notified ${where}: ${deps.redact(headline(notice))}`);
      return true;
    }
    deps.log.warn(
      `the notification to ${where} was refused (${answer.statusCode}: ${deps.redact(answer.body.slice(0, 200))}); the operation goes on — check notify-url.`,
    );
  } catch (error) {
    deps.log.warn(
      `the notification to ${where} failed (${deps.redact(error instanceof Error ? error.message : String(error))}, within ${Math.round(target.timeoutMs / 1000)} s); the operation goes on — check notify-url.`,
    );
  }
  return false;
}
