/**
 * The audit trail on each host: one JSON line per mutating operation in `<app-dir>/.runbook/audit.log`
 * (or the database droplet's audit file), appended with one write(2) of the whole line on a file opened
 * with O_APPEND (`dd oflag=append iflag=fullblock`), so that two writers never interleave inside a line.
 * Kept within `audit-max-bytes`: a line that would take the file past it moves the file to `audit.log.1`
 * first (one generation kept). Lines are redacted before they leave the runner and never hold a
 * secret's value, only its fingerprint.
 */
import { leasePaths } from '../fleet/lease.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';

export type AuditOutcome = 'succeeded' | 'failed' | 'cancelled';

export interface AuditEvent {
  /** ISO time the operation ended. */
  at: string;
  /** The host the line is on (set when read; written too, so a copied line still says where). */
  host: string;
  operation: string;
  outcome: AuditOutcome;
  actor?: string;
  /** The run's URL, or `runbook CLI on <machine>`. */
  via: string;
  environment?: string;
  /** The non-secret inputs the operation names (each action lists its own). */
  inputs: Record<string, string>;
  /** Release (and its sha where known) before and after, on this host. */
  before?: { release?: string; sha?: string };
  after?: { release?: string; sha?: string };
  /** A rotated secret: its name and the new value's fingerprint, never the value. */
  secret?: { name: string; fingerprint: string };
  /** What failed, first line, redacted. */
  error?: string;
  durationMs?: number;
}

export const DEFAULT_AUDIT_MAX_BYTES = 1024 * 1024;
/** One line stays well under what one write may carry; longer input values are cut. */
const MAX_LINE_BYTES = 8 * 1024;

export function auditPath(appDir: string): string {
  return `${leasePaths(appDir).meta}/audit.log`;
}

/** The event as one line: fields capped so that the line stays one small write. */
export function auditLine(event: AuditEvent): string {
  const cap = (text: string, n: number) => (text.length > n ? `${text.slice(0, n)}…` : text);
  const inputs = Object.fromEntries(Object.entries(event.inputs).map(([k, v]) => [k, cap(v, 300)]));
  const line = JSON.stringify({
    ...event,
    inputs,
    ...(event.error ? { error: cap(event.error, 500) } : {}),
  });
  return Buffer.byteLength(line) <= MAX_LINE_BYTES
    ? line
    : JSON.stringify({ ...event, inputs: { note: 'inputs left out: too long for one line' } });
}

/** Appends one line to `file` on the host (its folder made when missing), rotating first at `maxBytes`. */
export async function appendAudit(
  session: SshSession,
  file: string,
  line: string,
  maxBytes: number,
): Promise<void> {
  const bytes = Buffer.byteLength(line) + 1;
  const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/')) || '/' : '.';
  await session.run(
    'append the audit line',
    sh`mkdir -p -- ${dir} && { [ ! -f ${file} ] || [ "$(stat -c %s -- ${file})" -le ${Math.max(0, maxBytes - bytes)} ] || mv -f -- ${file} ${`${file}.1`}; } && printf '%s\\n' ${line} | dd of=${file} oflag=append conv=notrunc iflag=fullblock bs=${bytes} count=1 status=none`,
    { timeoutMs: 15_000 },
  );
}

/** The host's audit events (the rotated generation too), oldest first; lines that do not parse are counted. */
export async function readAudit(
  session: SshSession,
  file: string,
): Promise<{ events: AuditEvent[]; unreadable: number }> {
  const { stdout } = await session.run(
    'read the audit log',
    sh`cat -- ${`${file}.1`} ${file} 2>/dev/null || true`,
    {
      timeoutMs: 30_000,
    },
  );
  const events: AuditEvent[] = [];
  let unreadable = 0;
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    try {
      const parsed = JSON.parse(line) as Partial<AuditEvent>;
      if (typeof parsed.at === 'string' && typeof parsed.operation === 'string')
        events.push({
          inputs: {},
          via: '',
          host: session.name,
          outcome: 'succeeded',
          ...parsed,
        } as AuditEvent);
      else unreadable++;
    } catch {
      unreadable++;
    }
  }
  return { events, unreadable };
}
