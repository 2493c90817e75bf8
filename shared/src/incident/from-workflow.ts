/**
 * An incident report for any workflow step: what ran, when, how it ended, what a diagnosis found,
 * and — when a health URL is given — whether the service is healthy now, proven by the health core.
 * The incident workflow ends every mutating dispatch with it; the deploy workflow uses it when a
 * failure happened before action-deploy could write its own (a backup or a migration failed).
 */
import type { Inputs } from '../config/inputs.js';
import { ConfigurationError } from '../errors.js';
import { readHealthCriteria } from '../health/inputs.js';
import { verifyHealth } from '../health/verify.js';
import type { Log } from '../log.js';
import type { RunContext } from '../result.js';
import { incidentDir, incidentMarkdown, writeIncident, type Incident } from './report.js';
import { readAuditFile } from '../audit/inputs.js';
import { describeEvent, readTrail } from '../audit/trail.js';
import { readHosts, readSshOptions } from '../ssh/inputs.js';

const OUTCOMES = ['success', 'failure', 'cancelled'] as const;
const SEVERITY = /^(P[0-3])\b/;

export interface WorkflowIncidentResult {
  outputs: Record<string, string | boolean | undefined>;
  summary: string;
}

/** The findings that say when diagnose judged them, as Timeline events. */
function findingEvents(raw: string): { at: string; event: string; detail: string }[] {
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>[];
    return parsed.flatMap((f) =>
      typeof f?.at === 'string' && !Number.isNaN(Date.parse(f.at))
        ? [
            {
              at: f.at,
              event: `diagnosed ${String(f.severity)} at ${String(f.where)}`,
              detail: `${String(f.check)}: ${String(f.why)}`,
            },
          ]
        : [],
    );
  } catch {
    return [];
  }
}

/** action-diagnose's `findings` output: a JSON list of {severity, where, check, why, next}. */
export function parseFindings(raw: string): string[] {
  if (!raw.trim()) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError('findings', "is not JSON (pass action-diagnose's `findings` output).");
  }
  if (!Array.isArray(parsed))
    throw new ConfigurationError('findings', "must be a JSON list (action-diagnose's `findings` output).");
  return parsed.map((item) => {
    if (typeof item !== 'object' || item === null) return String(item);
    const f = item as Record<string, unknown>;
    const text = (key: string) => (typeof f[key] === 'string' ? (f[key] as string) : '');
    return `${text('severity')} ${text('where')} ${text('check')}: ${text('why')}${text('next') ? ` — next: ${text('next')}` : ''}`
      .replace(/\s+/g, ' ')
      .trim();
  });
}

function isoTime(name: string, raw: string | undefined, fallback: Date): string {
  if (!raw) return fallback.toISOString();
  const at = Date.parse(raw);
  if (Number.isNaN(at))
    throw new ConfigurationError(name, `must be a time like 2026-12-01T03:04:05Z, got "${raw}".`);
  return new Date(at).toISOString();
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'incident'
  );
}

export async function runWorkflowIncident(
  inputs: Inputs,
  context: RunContext,
  deps: { log: Log; env?: NodeJS.ProcessEnv; now?: () => Date },
): Promise<WorkflowIncidentResult> {
  const now = deps.now ?? (() => new Date());
  const env = deps.env ?? process.env;
  const title = inputs.string('title', { required: true });
  const outcome = inputs.choice('outcome', OUTCOMES, 'failure');
  const findings = parseFindings(inputs.raw('findings'));
  const startedAt = isoTime('started-at', inputs.string('started-at'), now());
  const healthUrl = inputs.urls('health-url')[0];
  const criteria = healthUrl
    ? {
        ...readHealthCriteria(inputs),
        deadlineMs: inputs.duration('health-deadline', 60_000, { min: 1, max: 3_600_000 }),
      }
    : undefined;
  const operation = inputs.string('operation') ?? 'the workflow';
  const environment = inputs.string('environment');
  const severity =
    inputs.string('severity') ?? findings.map((f) => SEVERITY.exec(f)?.[1]).find((s) => s !== undefined);
  const endedAt = now().toISOString();
  const lookbackMs = inputs.duration('timeline-lookback', 3_600_000, { min: 0 });
  const hosts = inputs.list('hosts').length ? readHosts(inputs) : [];
  // The hosts' audit trail of the incident window: what changed before it (the likely cause) and during it.
  const trail = hosts.length
    ? await readTrail(
        {
          hosts,
          ssh: readSshOptions(inputs),
          file: readAuditFile(inputs),
          sinceMs: Date.parse(startedAt) - lookbackMs,
          untilMs: Date.parse(endedAt) + 1000,
        },
        deps,
      )
    : undefined;
  for (const u of trail?.unread ?? [])
    deps.log.warn(`${u.host}: its audit trail is not in the Timeline (${u.error})`);

  let recoveredAt: string | undefined;
  let health = 'not checked (no health-url)';
  if (healthUrl && criteria) {
    const report = await verifyHealth({ urls: [healthUrl], ...criteria }, { log: deps.log });
    health = report.healthy ? `healthy at ${now().toISOString()}` : `NOT healthy: ${report.failure ?? ''}`;
    if (report.healthy) recoveredAt = now().toISOString();
  }

  const incident: Incident = {
    name: inputs.string('name') ?? slug(title),
    title,
    ...(severity ? { severity } : {}),
    ...(environment ? { environment } : {}),
    detectedAt: startedAt,
    detection: inputs.string('detection') ?? `${operation} ended with ${outcome}`,
    ...(findings.length ? { findings } : {}),
    steps: [
      {
        name: operation,
        startedAt,
        endedAt,
        outcome: outcome === 'success' ? 'succeeded' : 'failed',
        detail: `${outcome}; the service after it: ${health}`,
      },
    ],
    mitigation: `${operation} (${outcome})`,
    ...(recoveredAt ? { recoveredAt } : {}),
    events: [
      ...(trail?.events ?? []).map((e) => ({
        at: e.at,
        event: `${e.host}: ${e.operation} ${e.outcome}`,
        detail: describeEvent(e),
      })),
      ...findingEvents(inputs.raw('findings')),
    ],
    ...(context.holder.actor ? { actor: context.holder.actor } : {}),
    ...(context.holder.runUrl ? { runUrl: context.holder.runUrl } : {}),
  };
  const path = writeIncident(incidentDir(inputs.string('incident-dir'), env), incident);
  deps.log.info(`incident report written to ${path}; the service: ${health}`);
  return {
    outputs: { path, recovered: recoveredAt !== undefined },
    summary: incidentMarkdown(incident),
  };
}
