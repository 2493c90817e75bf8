/**
 * `mode: audit` — the runbook's monthly security audit of secret age. Reads every host's rotation
 * record and env file (never changes anything, takes no lock): each tracked secret's age, warnings
 * past `warn-age`, a failure past `max-age`, and what no age can show — a value edited by hand since
 * its rotation (the file's fingerprint differs from the record's), hosts that disagree, a rotation
 * left unfinished, a grace value still open.
 */
import { EnvFile } from '../envfile/envfile.js';
import { readRemoteEnv } from '../envfile/remote.js';
import { OperationError } from '../errors.js';
import { formatDuration } from '../config/parse.js';
import type { Log } from '../log.js';
import { openSession, type SshOptions } from '../ssh/connect.js';
import { describeTarget, type SshTarget } from '../ssh/target.js';
import { readRecord, recordPath, type RotationRecord } from './record.js';
import { fingerprintOf } from './value.js';

export interface AuditOptions {
  hosts: SshTarget[];
  ssh: SshOptions;
  envFile: string;
  /** Only these names; empty: every secret any record tracks. */
  names: string[];
  warnAgeMs: number;
  maxAgeMs?: number;
}

export interface AuditRow {
  host: string;
  name: string;
  fingerprint?: string;
  rotatedAt?: string;
  ageDays?: number;
  status: 'ok' | 'warn' | 'over' | 'untracked';
  notes: string[];
}

export interface AuditReport {
  rows: AuditRow[];
  warnings: string[];
  failure?: OperationError;
}

const DAY = 86_400_000;

interface HostRead {
  host: string;
  env?: EnvFile;
  record: RotationRecord;
}

export async function auditSecrets(
  options: AuditOptions,
  deps: { log: Log; now?: () => Date },
): Promise<AuditReport> {
  const now = (deps.now ?? (() => new Date()))().getTime();
  const rows: AuditRow[] = [];
  const warnings: string[] = [];
  // Every host read, then every session closed, before a failure to reach one is reported.
  const read = await Promise.allSettled(
    options.hosts.map(async (target) => {
      const session = await openSession(target, options.ssh, deps.log);
      try {
        const [text, record] = await Promise.all([
          readRemoteEnv(session, options.envFile),
          readRecord(session, recordPath(options.envFile)),
        ]);
        return {
          host: describeTarget(target),
          env: text === undefined ? undefined : EnvFile.parse(text),
          record,
        };
      } finally {
        session.close();
      }
    }),
  );
  const unreachable = read.find((r) => r.status === 'rejected');
  if (unreachable) throw unreachable.reason;
  const perHost = read.map((r) => (r as PromiseFulfilledResult<HostRead>).value);
  for (const { host, env, record } of perHost) {
    if (!env) warnings.push(`${host}: ${options.envFile} does not exist`);
    const names = options.names.length ? options.names : Object.keys(record.secrets).sort();
    for (const name of names) {
      const entry = record.secrets[name];
      const value = env?.get(name);
      if (value) deps.log.mask(value);
      const row: AuditRow = { host, name, fingerprint: fingerprintOf(value), status: 'untracked', notes: [] };
      if (entry) {
        const age = now - Date.parse(entry.rotated_at);
        row.rotatedAt = entry.rotated_at;
        row.ageDays = Math.floor(age / DAY);
        row.status =
          options.maxAgeMs !== undefined && age > options.maxAgeMs
            ? 'over'
            : age > options.warnAgeMs
              ? 'warn'
              : 'ok';
        if (value !== undefined && fingerprintOf(value) !== entry.fingerprint)
          row.notes.push(
            `the file holds ${fingerprintOf(value)}, not the rotated ${entry.fingerprint}: edited by hand since`,
          );
        if (
          entry.previous_fingerprint &&
          !entry.previous_retired_at &&
          env?.get(`${name}_PREVIOUS`) !== undefined
        )
          row.notes.push(`grace value ${name}_PREVIOUS still set (retire it once old tokens have expired)`);
      } else {
        row.notes.push('never rotated by runbook-actions: its age is unknown');
      }
      if (value === undefined) row.notes.push(`not in ${options.envFile}`);
      const pending = record.pending[name];
      if (pending)
        row.notes.push(
          `a rotation to ${pending.fingerprint} started ${pending.started_at} is unfinished: run rotate again`,
        );
      rows.push(row);
    }
  }
  const byName = new Map<string, Set<string>>();
  for (const row of rows)
    byName.set(row.name, (byName.get(row.name) ?? new Set()).add(row.fingerprint ?? ''));
  for (const [name, fps] of byName)
    if (fps.size > 1) warnings.push(`${name}: the hosts hold different values (${[...fps].join(', ')})`);
  for (const row of rows) {
    if (row.status === 'warn' || row.status === 'over')
      warnings.push(`${row.host}: ${row.name} is ${row.ageDays} days old (rotated ${row.rotatedAt})`);
    for (const note of row.notes) warnings.push(`${row.host}: ${row.name}: ${note}`);
  }
  const over = rows.filter((r) => r.status === 'over');
  return {
    rows,
    warnings,
    ...(over.length && options.maxAgeMs !== undefined
      ? {
          failure: new OperationError(
            `${over.map((r) => `${r.name} on ${r.host} (${r.ageDays} days)`).join(', ')} ${over.length === 1 ? 'is' : 'are'} older than max-age ${formatDuration(options.maxAgeMs)}.`,
            'rotate them (mode: rotate), then retire the previous values once the grace window has passed.',
          ),
        }
      : {}),
  };
}
