/**
 * A code rollback that knows the schema. Each release's log line keeps the migrations applied for it
 * (action-deploy `migrations`); going back to a release older than one of them would run code that
 * does not know that schema. So the rollback refuses, naming them, unless `rollback-migrations: true`
 * and each has its `_rollback.sql` — then, under the hosts' lease, the migrations are rolled back
 * newest first (gated on the backup, as action-db-migrate's rollback) before the code switches.
 * `-- runbook:irreversible` makes the refusal explicit. With `database-url`, the tracking table says
 * which of them are still applied (one rolled back by hand is nothing to do).
 */
import { ConfigurationError, OperationError, errorText } from '../errors.js';
import type { Log } from '../log.js';
import type { DatabaseAccess } from '../postgres/connect.js';
import type { MigrationSource } from '../postgres/migrations/inputs.js';
import type { MigrationFile } from '../postgres/migrations/files.js';
import { versionOf } from '../postgres/migrations/names.js';
import type { HostRun } from './host-run.js';

export interface SchemaRollbackOptions {
  rollbackMigrations: boolean;
  /** database-url (+ database-ssh-host): read the tracking table; needed to roll back. */
  access?: DatabaseAccess;
  source: MigrationSource;
}

export interface SchemaDecision {
  /** Migration files to roll back, newest first, each with the release it was applied for. */
  migrations: { file: string; release: string }[];
  /** Applied for newer releases but no longer applied (the tracking table said so). */
  alreadyRolledBack: string[];
}

export interface SchemaRollbackReport {
  rolledBack: { version: string; file: string; durationMs: number }[];
  gate?: string;
}

/** Migrations recorded with any release newer than the host's target, newest first. */
export function migrationsPast(runs: HostRun[]): { file: string; release: string }[] {
  const found = new Map<string, string>();
  for (const run of runs) {
    if (!run.state || !run.release) continue;
    for (const [id, history] of run.state.history)
      if (id > run.release) for (const file of history.migrations) if (!found.has(file)) found.set(file, id);
  }
  return [...found]
    .map(([file, release]) => ({ file, release }))
    .sort((a, b) => Number(BigInt(versionOf(b.file)) - BigInt(versionOf(a.file))));
}

async function appliedVersions(options: SchemaRollbackOptions, log: Log): Promise<Set<string>> {
  const { openEndpoint } = await import('../postgres/endpoint.js');
  const { DatabaseSession } = await import('../postgres/session.js');
  const { readApplied } = await import('../postgres/migrations/tracking.js');
  const access = options.access as DatabaseAccess;
  const endpoint = await openEndpoint(access.db, access.via, log);
  try {
    const session = await DatabaseSession.open(access.db, endpoint.reach);
    try {
      const rows = await readApplied(session, options.source.table);
      return new Set(rows.map((r) => BigInt(r.version).toString()));
    } finally {
      await session.close();
    }
  } finally {
    await endpoint.close();
  }
}

async function filesOf(options: SchemaRollbackOptions): Promise<Map<string, MigrationFile> | string> {
  const { readMigrations } = await import('../postgres/migrations/files.js');
  try {
    const files = await readMigrations(options.source.dir, 'migrations-dir', options.source.confinement);
    return new Map(files.map((f) => [f.file, f]));
  } catch (error) {
    return errorText(error);
  }
}

/** Decides before any host is touched: nothing to do, a refusal (thrown), or the migrations to roll back. */
export async function decideSchema(
  runs: HostRun[],
  options: SchemaRollbackOptions,
  log: Log,
): Promise<SchemaDecision | undefined> {
  let past = migrationsPast(runs);
  if (!past.length) return undefined;
  const alreadyRolledBack: string[] = [];
  if (options.access) {
    const applied = await appliedVersions(options, log);
    for (const m of past)
      if (!applied.has(BigInt(versionOf(m.file)).toString())) alreadyRolledBack.push(m.file);
    past = past.filter((m) => !alreadyRolledBack.includes(m.file));
    if (alreadyRolledBack.length)
      log.info(
        `migrations of newer releases already rolled back (the tracking table): ${alreadyRolledBack.join(', ')}`,
      );
    if (!past.length) return { migrations: [], alreadyRolledBack };
  }
  const target = runs[0]?.release ?? '?';
  const files = await filesOf(options);
  const named = past.map((m) => `${m.file} (applied with ${m.release})`).join(', ');
  const fileOf = (m: { file: string }) => (typeof files === 'string' ? undefined : files.get(m.file));
  const irreversible = past.filter((m) => fileOf(m)?.irreversible);
  if (irreversible.length)
    throw new OperationError(
      `Rollback to ${target} refused: it is older than ${irreversible.map((m) => m.file).join(', ')}, marked -- runbook:irreversible — the schema cannot go back, and ${target}'s code was not written for it. Nothing was changed.`,
      'deploy a fix forward; or, if the data from before the migration must come back, restore the backup taken before it (action-db-backup mode: restore) and then roll back.',
    );
  if (!options.rollbackMigrations)
    throw new OperationError(
      `Rollback to ${target} refused: it is older than migration${past.length > 1 ? 's' : ''} ${named}, which its code was not written for. Nothing was changed.`,
      `set rollback-migrations: true to roll ${past.length > 1 ? 'them' : 'it'} back first (newest first, each with its _rollback.sql, after a verified backup), or deploy a fix forward${options.access ? '' : '; if they were rolled back already, give database-url so the tracking table is read'}.`,
    );
  if (!options.access)
    throw new ConfigurationError(
      'database-url',
      `is needed with rollback-migrations: true: ${named} must be rolled back in the database before the code goes back to ${target}. Nothing was changed.`,
    );
  if (typeof files === 'string')
    throw new ConfigurationError(
      'migrations-dir',
      `must hold the rollback files of ${named} (check out the repository first): ${files}`,
    );
  const missing = past.filter((m) => !fileOf(m));
  const without = past.filter((m) => fileOf(m) && !fileOf(m)?.rollback);
  if (missing.length || without.length)
    throw new OperationError(
      `Rollback to ${target} refused: ${[
        ...missing.map((m) => `${m.file} is not in ${options.source.dir}`),
        ...without.map((m) => `${m.file} has no _rollback.sql`),
      ].join('; ')}. Nothing was changed.`,
      'write the rollback file (NNN_name_rollback.sql) and run again, or deploy a fix forward.',
    );
  return { migrations: past, alreadyRolledBack };
}

/** Rolls the decided migrations back (newest first, gated on the backup) — before any code moves. */
export async function rollBackSchema(
  decision: SchemaDecision,
  options: SchemaRollbackOptions,
  deps: { log: Log; signal?: AbortSignal },
): Promise<SchemaRollbackReport> {
  if (!decision.migrations.length) return { rolledBack: [] };
  const { migrate } = await import('../postgres/migrations/migrate.js');
  const report = await migrate(
    {
      ...options.source,
      access: options.access as DatabaseAccess,
      mode: 'rollback',
      versions: decision.migrations.map((m) => versionOf(m.file)),
      lockWaitMs: 120_000,
      timeouts: { lockTimeoutMs: 5000, statementTimeoutMs: 0 },
      allowOutOfOrder: false,
      steps: 1,
      dryRun: false,
      lint: 'off',
      lockRetries: 3,
    },
    deps,
  );
  if (report.failure) {
    const done = report.rolledBack.map((r) => r.file);
    throw new OperationError(
      `The migrations were not all rolled back, so the code was not switched: ${report.failure.message}${done.length ? ` Rolled back before that, and staying so: ${done.join(', ')} — the release now current runs on that schema.` : ''}`,
      report.failure.hint,
    );
  }
  return { rolledBack: report.rolledBack, ...(report.gate ? { gate: report.gate } : {}) };
}
