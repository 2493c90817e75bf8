/**
 * The audit trail read back: every host's audit file (and its rotated generation) over one SSH
 * connection each, merged newest first and cut at `since` — action-diagnose's `mode: audit`,
 * `runbook audit`, the status screen's recent changes and the incident report's timeline. Read-only;
 * a host that cannot be reached is named, not a stop. Lines are shown through the caller's redactor.
 */
import type { Inputs } from '../config/inputs.js';
import { errorText } from '../errors.js';
import { CONNECT_PARALLEL } from '../fleet/hosts.js';
import { mapInParallel } from '../fleet/parallel.js';
import type { Log } from '../log.js';
import { markdownTable } from '../report/markdown.js';
import type { ModeResult } from '../result.js';
import { openSession, type SshOptions } from '../ssh/connect.js';
import { readHosts, readSshOptions } from '../ssh/inputs.js';
import { describeTarget, type SshTarget } from '../ssh/target.js';
import { readAudit, type AuditEvent } from './audit-log.js';
import { readAuditFile } from './inputs.js';

export interface TrailOptions {
  hosts: SshTarget[];
  ssh: SshOptions;
  file: string;
  /** Events at or after this time (ms since the epoch). */
  sinceMs: number;
  /** Events up to this time; undefined: now. */
  untilMs?: number;
}

export interface Trail {
  events: AuditEvent[];
  /** Hosts not read, with why. */
  unread: { host: string; error: string }[];
  unreadable: number;
}

export function readTrailOptions(inputs: Inputs, now: Date = new Date()): TrailOptions {
  return {
    hosts: readHosts(inputs),
    ssh: readSshOptions(inputs),
    file: readAuditFile(inputs),
    sinceMs: now.getTime() - inputs.duration('since', 86_400_000, { min: 1000 }),
  };
}

export async function readTrail(options: TrailOptions, deps: { log: Log }): Promise<Trail> {
  const unread: Trail['unread'] = [];
  let unreadable = 0;
  const perHost = await mapInParallel(options.hosts, CONNECT_PARALLEL, async (target) => {
    let session;
    try {
      session = await openSession(target, options.ssh, deps.log);
      const read = await readAudit(session, options.file);
      unreadable += read.unreadable;
      return read.events;
    } catch (error) {
      unread.push({ host: describeTarget(target), error: errorText(error).split('\n')[0] ?? '' });
      return [];
    } finally {
      session?.close();
    }
  });
  const until = options.untilMs ?? Infinity;
  const events = perHost
    .flat()
    .filter((e) => {
      const at = Date.parse(e.at);
      return at >= options.sinceMs && at <= until;
    })
    .sort((a, b) => b.at.localeCompare(a.at));
  return { events, unread, unreadable };
}

/** One event as a line a person reads: what, where, by whom, how it ended, the release before → after. */
export function describeEvent(e: AuditEvent): string {
  const move =
    e.before?.release || e.after?.release ? ` ${e.before?.release ?? '–'} → ${e.after?.release ?? '–'}` : '';
  const secret = e.secret ? ` ${e.secret.name} now ${e.secret.fingerprint}` : '';
  return `${e.operation} ${e.outcome}${move}${secret}${e.actor ? ` by ${e.actor}` : ''}${e.error ? `: ${e.error}` : ''}`;
}

export function trailMarkdown(trail: Trail, title: string): string {
  return [
    `## ${title}`,
    '',
    trail.events.length
      ? markdownTable(
          ['Time (UTC)', 'Host', 'Operation', 'Outcome', 'Release', 'By', 'Run'],
          trail.events.map((e) => [
            e.at,
            e.host,
            e.operation,
            e.outcome,
            e.before?.release || e.after?.release
              ? `${e.before?.release ?? '–'} → ${e.after?.release ?? '–'}`
              : '',
            e.actor ?? '',
            e.via,
          ]),
        )
      : 'No audit events in this window.',
    ...(trail.unread.length ? ['', ...trail.unread.map((u) => `- ⚠️ ${u.host} not read: ${u.error}`)] : []),
    ...(trail.unreadable
      ? ['', `- ${trail.unreadable} line(s) that are not audit events were skipped.`]
      : []),
  ].join('\n');
}

/** action-diagnose `mode: audit` and `runbook audit`: the trail across the hosts, newest first. */
export async function runAuditMode(inputs: Inputs, deps: { log: Log }): Promise<ModeResult> {
  const trail = await readTrail(readTrailOptions(inputs), deps);
  for (const u of trail.unread) deps.log.warn(`${u.host}: the audit log was not read (${u.error})`);
  return {
    mode: 'audit',
    outputs: { audit: JSON.stringify(trail.events) },
    summary: trailMarkdown(trail, `Audit trail: ${trail.events.length} event(s), newest first`),
  };
}
