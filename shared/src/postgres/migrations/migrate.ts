/**
 * `mode: migrate | status | rollback` of action-db-migrate: read the folder (errors before any
 * connection), check the backup gate, connect, take the migration lock, compare folder and tracking
 * table, refuse what is unsafe, then apply (or roll back) one migration at a time.
 */
import { ConfigurationError, OperationError, operationFailure } from '../../errors.js';
import type { Log } from '../../log.js';
import type { DatabaseAccess } from '../connect.js';
import { describeDatabase } from '../database-url.js';
import { openEndpoint } from '../endpoint.js';
import { DatabaseSession, databaseFailure } from '../session.js';
import {
  compareVersions,
  readMigrations,
  pendingStatements,
  statementsToRun,
  type Confinement,
  type MigrationFile,
} from './files.js';
import { checkBackupGate, type BackupGate } from './gate.js';
import { planMigrations, type MigrationPlan } from './plan.js';
import { backoffDelay, sleepUnlessAborted, type BackoffPolicy } from '../../retry/backoff.js';
import type { Statement } from './statements.js';
import {
  LOCK_NOT_AVAILABLE,
  MigrationFailed,
  acquireMigrationLock,
  applyMigration,
  releaseMigrationLock,
  rollBackMigration,
  type AppliedMigration,
  type Timeouts,
} from './run.js';
import { lintMigrations, lintRefusal, type LintLevel, type LintReport } from './lint.js';
import { ensureTracking, readApplied, recordApplied, type TableRef } from './tracking.js';

export type MigrateMode = 'migrate' | 'status' | 'rollback';

export interface MigrateOptions {
  access: DatabaseAccess;
  mode: MigrateMode;
  dir: string;
  table: TableRef;
  lockWaitMs: number;
  timeouts: Timeouts;
  allowOutOfOrder: boolean;
  baseline?: string;
  gate: BackupGate;
  steps: number;
  /**
   * Rollback mode: exactly these versions (a code rollback past them), which must be the newest
   * applied ones; `steps` is then ignored.
   */
  versions?: string[];
  dryRun: boolean;
  appliedBy: string;
  /** The largest file PostgreSQL's parser is given (max-file-size). */
  maxFileBytes: number;
  /** The folder and its files must resolve inside this (the workspace), unless absent. */
  confinement?: Confinement;
  /** squawk on the pending files before any is applied. */
  lint: LintLevel;
  /** A migration that failed on lock_timeout runs again this many times (whole, or from the failed statement). */
  lockRetries: number;
}

export interface MigrateReport {
  mode: MigrateMode;
  applied: AppliedMigration[];
  rolledBack: { version: string; file: string; durationMs: number }[];
  plan?: MigrationPlan;
  /** What would run, in order (dry-run). */
  wouldRun: { version: string; file: string; sha256: string; noTransaction: boolean }[];
  gate?: string;
  currentVersion?: string;
  lint?: LintReport;
  failure?: OperationError;
}

export function refuseUnsafe(plan: MigrationPlan, allowOutOfOrder: boolean): void {
  if (plan.changed.length) {
    throw new OperationError(
      `Refused: applied migration${plan.changed.length > 1 ? 's were' : ' was'} changed since: ${plan.changed
        .map(
          (c) =>
            `${c.file.file} (applied sha256 ${c.row.sha256.slice(0, 12)}…, file now ${c.file.sha256.slice(0, 12)}…)`,
        )
        .join('; ')}. Nothing was applied.`,
      'an applied migration must never be edited: restore the file as it was applied (git log) and put the change in a new migration.',
    );
  }
  if (plan.outOfOrder.length && !allowOutOfOrder) {
    throw new OperationError(
      `Refused: pending migration${plan.outOfOrder.length > 1 ? 's' : ''} ${plan.outOfOrder.map((f) => f.file).join(', ')} numbered below the applied ${plan.currentVersion}. Nothing was applied.`,
      'renumber it above the current version, or set allow-out-of-order: true if it is independent of the ones after it (a hotfix branch merged late).',
    );
  }
}

const LOCK_RETRY_BACKOFF: BackoffPolicy = { initialMs: 1000, factor: 2, maxMs: 30_000, jitter: 0.5 };

/**
 * A lock timeout means another session held the table for a moment (a long query, autovacuum): wait
 * with backoff and try again — a transactional migration whole (its transaction rolled back), one
 * outside a transaction from the statement that failed (the ones before it took effect).
 */
async function applyWithLockRetries(
  session: DatabaseSession,
  options: MigrateOptions,
  file: MigrationFile,
  statements: Statement[],
  deps: { log: Log; signal?: AbortSignal },
): Promise<AppliedMigration> {
  let from = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyMigration(
        session,
        options.table,
        file,
        statements,
        options.timeouts,
        options.appliedBy,
        undefined,
        from,
        deps.log,
      );
    } catch (error) {
      if (
        !(error instanceof MigrationFailed) ||
        error.code !== LOCK_NOT_AVAILABLE ||
        attempt > options.lockRetries
      )
        throw error;
      from = file.noTransaction ? error.completedStatements : 0;
      const delay = backoffDelay(LOCK_RETRY_BACKOFF, attempt);
      deps.log.warn(
        `${file.file}: lock-timeout (${options.timeouts.lockTimeoutMs} ms) — another session held a lock it needs; attempt ${attempt + 1} of ${options.lockRetries + 1} in ${delay} ms, ${file.noTransaction ? `resuming at statement ${from + 1} of ${statements.length}` : 'rerunning it whole'}`,
      );
      await sleepUnlessAborted(delay, deps.signal);
      if (deps.signal?.aborted) throw deps.signal.reason;
    }
  }
}

export async function migrate(
  options: MigrateOptions,
  deps: { log: Log; signal?: AbortSignal },
): Promise<MigrateReport> {
  const { log } = deps;
  const files = await readMigrations(options.dir, 'migrations-dir', options.confinement);
  const report: MigrateReport = { mode: options.mode, applied: [], rolledBack: [], wouldRun: [] };
  const database = options.access.db.database;
  // A _rollback.sql typically drops what its migration made: gated on a backup like migrate.
  if ((options.mode === 'migrate' || options.mode === 'rollback') && !options.dryRun) {
    try {
      report.gate = await checkBackupGate(options.gate, database, Date.now(), options.mode);
    } catch (error) {
      if (!(error instanceof OperationError)) throw error;
      report.failure = error;
      return report;
    }
    log.info(report.gate);
  }
  const endpoint = await openEndpoint(options.access.db, options.access.via, log);
  let session: DatabaseSession | undefined;
  let locked = false;
  try {
    session = await DatabaseSession.open(options.access.db, endpoint.reach);
    const readOnly = options.mode === 'status' || options.dryRun;
    if (!readOnly) {
      await acquireMigrationLock(session, options.table, options.lockWaitMs, log);
      locked = true;
    }
    // The tracking table is created only once something will be recorded: a refusal changes nothing.
    let rows = await readApplied(session, options.table);
    if (options.baseline !== undefined && options.mode === 'migrate') {
      if (rows.length) {
        throw new ConfigurationError(
          'baseline',
          `can only adopt a database whose tracking table is empty; ${rows.length} migration(s) are recorded already. Remove the input.`,
        );
      }
      const adopted = files.filter((f) => compareVersions(f.version, options.baseline as string) <= 0);
      if (!adopted.some((f) => compareVersions(f.version, options.baseline as string) === 0))
        throw new ConfigurationError('baseline', `${options.baseline} is not a migration in ${options.dir}.`);
      if (options.dryRun)
        log.info(
          `[dry-run] would record ${adopted.map((f) => f.file).join(', ')} as applied (baseline), without running them`,
        );
      else {
        await ensureTracking(session, options.table);
        for (const f of adopted)
          await recordApplied(session, options.table, {
            version: f.version,
            name: f.name,
            sha256: f.sha256,
            applied_by: `baseline by ${options.appliedBy}`,
            duration_ms: 0,
          });
        log.info(
          `baseline: ${adopted.length} migration(s) up to ${options.baseline} recorded as applied, not run`,
        );
        rows = await readApplied(session, options.table);
      }
    }
    const plan = planMigrations(files, rows);
    report.plan = plan;
    report.currentVersion = plan.currentVersion;
    for (const row of plan.missing)
      log.warn(
        `version ${row.version} (${row.name}) is applied in ${database} but has no file in ${options.dir}`,
      );
    if (options.mode === 'status') return report;

    if (options.mode === 'rollback') {
      const newestFirst = [...plan.applied].sort((a, b) => compareVersions(b.row.version, a.row.version));
      // Versions no longer applied (rolled back already) are nothing to do.
      const asked = new Set(
        (options.versions ?? [])
          .map((v) => BigInt(v).toString())
          .filter((v) => plan.applied.some((a) => BigInt(a.row.version).toString() === v)),
      );
      const last = options.versions ? newestFirst.slice(0, asked.size) : newestFirst.slice(0, options.steps);
      if (options.versions) {
        const between = last.filter((a) => !asked.has(BigInt(a.row.version).toString()));
        if (between.length)
          throw new OperationError(
            `Refused to roll back ${options.versions.join(', ')}: ${between.map((a) => a.file?.file ?? `version ${a.row.version}`).join(', ')} ${between.length > 1 ? 'were' : 'was'} applied after them and would stay, on a schema rolled back beneath ${between.length > 1 ? 'them' : 'it'}. Nothing was rolled back.`,
            'roll the newer migrations back too (action-db-migrate mode: rollback, steps), or deploy a fix forward.',
          );
      }
      const irreversible = last.filter((a) => a.file?.irreversible);
      if (irreversible.length)
        throw new OperationError(
          `Refused to roll back: ${irreversible.map((a) => a.file?.file).join(', ')} ${irreversible.length > 1 ? 'are' : 'is'} marked -- runbook:irreversible. Nothing was rolled back.`,
          'restore the backup taken before it (action-db-backup mode: restore) if the data it changed must come back, or deploy a fix forward.',
        );
      const without = last.filter((a) => !a.file?.rollback);
      if (without.length) {
        throw new OperationError(
          `Refused to roll back: ${without.map((a) => a.file?.file ?? `version ${a.row.version} (no file)`).join(', ')} ha${without.length > 1 ? 've' : 's'} no _rollback.sql. Nothing was rolled back.`,
          'write the rollback file (NNN_name_rollback.sql) or restore the pre-migration backup (action-db-backup mode: restore).',
        );
      }
      refuseUnsafe({ ...plan, outOfOrder: [] }, true);
      const statements = await statementsToRun(
        last.map((a) => ({
          file: a.file?.rollback?.file ?? '',
          sql: a.file?.rollback?.sql ?? '',
          transactional: true,
          role: 'rollback' as const,
        })),
        options.maxFileBytes,
      );
      for (const a of last) {
        const file = a.file as MigrationFile;
        if (options.dryRun) {
          log.info(`[dry-run] would run ${file.rollback?.file} and remove version ${file.version}`);
          report.wouldRun.push({
            version: file.version,
            file: file.rollback?.file ?? '',
            sha256: '',
            noTransaction: false,
          });
          continue;
        }
        const ms = await rollBackMigration(
          session,
          options.table,
          file,
          statements.get(file.rollback?.file ?? '') ?? [],
          options.timeouts,
        );
        report.rolledBack.push({ version: file.version, file: file.rollback?.file ?? '', durationMs: ms });
        log.info(`rolled back ${file.file} with ${file.rollback?.file} in ${ms} ms`);
      }
      // The summary and outputs show the state after it: rolled-back migrations are pending again.
      if (!options.dryRun) report.plan = planMigrations(files, await readApplied(session, options.table));
      report.currentVersion = report.plan.currentVersion;
      return report;
    }

    refuseUnsafe(plan, options.allowOutOfOrder);
    // Every file about to run, read by PostgreSQL's parser before the first is applied.
    const statements = await pendingStatements(plan.pending, options.maxFileBytes);
    if (plan.pending.length && options.lint !== 'off') {
      const server = await session.serverVersion();
      report.lint = await lintMigrations(
        plan.pending,
        {
          level: options.lint,
          dir: options.dir,
          pgVersion: /^\d+(\.\d+)?/.exec(server.version)?.[0] ?? `${server.major}.0`,
        },
        log,
      );
      const refusal = lintRefusal(report.lint);
      if (refusal) throw refusal;
    }
    if (options.dryRun) {
      report.wouldRun = plan.pending.map((f) => ({
        version: f.version,
        file: f.file,
        sha256: f.sha256,
        noTransaction: f.noTransaction,
      }));
      for (const f of report.wouldRun)
        log.info(
          `[dry-run] would apply ${f.file} (sha256 ${f.sha256.slice(0, 12)}…${f.noTransaction ? ', outside a transaction' : ''})`,
        );
      if (!report.wouldRun.length)
        log.info(
          `[dry-run] nothing to apply; ${describeDatabase(options.access.db)} is at ${plan.currentVersion ?? 'no version'}`,
        );
      return report;
    }
    if (plan.pending.length) await ensureTracking(session, options.table);
    for (const file of plan.pending) {
      if (deps.signal?.aborted) throw deps.signal.reason;
      const applied = await applyWithLockRetries(
        session,
        options,
        file,
        statements.get(file.file) ?? [],
        deps,
      );
      report.applied.push(applied);
      report.currentVersion = file.version;
      log.info(
        `applied ${file.file} in ${applied.durationMs} ms${file.noTransaction ? ' (outside a transaction, statement by statement)' : ''}`,
      );
    }
    if (!plan.pending.length)
      log.info(
        `nothing to apply; ${describeDatabase(options.access.db)} is at ${plan.currentVersion ?? 'no version'}`,
      );
    return report;
  } catch (error) {
    report.failure = operationFailure(databaseFailure(error, `The ${options.mode} run`));
    return report;
  } finally {
    if (session && locked) await releaseMigrationLock(session, options.table);
    await session?.close();
    await endpoint.close();
  }
}
