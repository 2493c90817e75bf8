/**
 * A rehearsal on a copy of production: the backup (the gating one, or the one named) restored into a
 * scratch database, the migrations pending there applied the way the real run applies them, and per
 * file its duration, the rows it touched, and the strongest lock it took on each table and for how
 * long (pg_locks, sampled from a second session). Gated on `rehearse-max-lock` and
 * `rehearse-max-duration`; the scratch database is dropped whatever happened.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration, parseDuration } from '../../config/parse.js';
import { ConfigurationError, OperationError, SafetyRefusal, errorText } from '../../errors.js';
import type { Log } from '../../log.js';
import { openBackupFile, type BackupFile } from '../backup-file.js';
import { findClientTools } from '../client-tools.js';
import { quoteIdent, type DatabaseUrl } from '../database-url.js';
import { openEndpoint, type Endpoint } from '../endpoint.js';
import type { DatabaseAccess } from '../connect.js';
import { loadBackup } from '../load.js';
import { lastVerified, readManifest } from '../manifest.js';
import { withScratchDatabase } from '../scratch.js';
import { DatabaseSession } from '../session.js';
import { pendingStatements, readMigrations } from './files.js';
import type { MigrationSource } from './inputs.js';
import { LockSampler, lockRank, LOCK_MODES, type HeldLock, type LockMode } from './lock-sampler.js';
import { refuseUnsafe } from './migrate.js';
import { planMigrations } from './plan.js';
import { applyMigration, type Timeouts } from './run.js';
import { ensureTracking, readApplied } from './tracking.js';

/** A lock of `mode` or stronger held longer than `overMs` on a table of more than `rowsOver` rows fails the rehearsal. */
export interface LockLimit {
  mode: LockMode;
  overMs: number;
  rowsOver: number;
}

export interface RehearsalOptions extends MigrationSource {
  /** A backup file, its manifest, or a folder (its newest verified backup). */
  backup: string;
  scratch: DatabaseUrl;
  binDir?: string;
  timeouts: Timeouts;
  allowOutOfOrder: boolean;
  lockLimits: LockLimit[];
  /** 0: none. */
  maxDurationMs: number;
  /**
   * Production (database-url): its roles are made on the scratch server (NOLOGIN) so that a
   * migration's GRANT, OWNER TO or SET ROLE runs there as it will in production.
   */
  production?: DatabaseAccess;
}

export interface RehearsedFile {
  file: string;
  durationMs: number;
  rowsTouched: number;
  locks: (HeldLock & { rows: number })[];
  /** The migration failed on the copy (its message). */
  error?: string;
}

export interface RehearsalReport {
  backup: string;
  /** Loading the backup into the scratch database. */
  restoreMs: number;
  /** Applying the migrations there, measured. */
  applyMs: number;
  /** The rest of its lifecycle: CREATE and DROP DATABASE, the sessions, reading the files. */
  otherMs: number;
  files: RehearsedFile[];
  violations: string[];
  failure?: OperationError;
}

/** `AccessExclusiveLock 2s 10000`, one a line: mode, longest hold, and (optionally) the table size it applies above. */
export function parseLockLimits(input: string, raw: string): LockLimit[] {
  const limits: LockLimit[] = [];
  for (const line of raw.split(/[\n,]/).map((l) => l.trim())) {
    if (!line || line === 'none') continue;
    const [mode, over, rows, ...rest] = line.split(/\s+/);
    if (
      !LOCK_MODES.includes(mode as LockMode) ||
      over === undefined ||
      rest.length ||
      (rows !== undefined && !/^\d+$/.test(rows))
    )
      throw new ConfigurationError(
        input,
        `${JSON.stringify(line)} is not \`<lock mode> <duration> [rows]\`, e.g. \`AccessExclusiveLock 2s 10000\` (a lock of that mode or stronger held over 2 s on a table of more than 10000 rows); modes: ${LOCK_MODES.join(', ')}.`,
      );
    limits.push({
      mode: mode as LockMode,
      overMs: parseDuration(input, over),
      rowsOver: rows === undefined ? 0 : Number(rows),
    });
  }
  return limits;
}

/** The newest backup in a folder whose manifest says it passed verification. */
async function newestVerified(dir: string): Promise<string> {
  const manifests = readdirSync(dir)
    .filter((f) => f.endsWith('.manifest.json'))
    .sort()
    .reverse();
  for (const name of manifests) {
    const manifest = await readManifest(join(dir, name)).catch(() => undefined);
    if (manifest && lastVerified(manifest)) return join(dir, name);
  }
  throw new ConfigurationError(
    'rehearse-backup',
    `${dir} holds no verified backup (no manifest with a passed verification).`,
  );
}

async function openRehearsalBackup(given: string): Promise<BackupFile> {
  const path = existsSync(given) && statSync(given).isDirectory() ? await newestVerified(given) : given;
  return openBackupFile(path);
}

/** The roles production has (not PostgreSQL's own `pg_*`). */
async function productionRoles(access: DatabaseAccess, log: Log): Promise<string[]> {
  const endpoint = await openEndpoint(access.db, access.via, log);
  try {
    const session = await DatabaseSession.open(access.db, endpoint.reach);
    try {
      const result = await session.client.query<{ name: string }>(
        "SELECT rolname AS name FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname",
      );
      return result.rows.map((r) => r.name);
    } finally {
      await session.close();
    }
  } finally {
    await endpoint.close();
  }
}

/** Makes the roles the scratch server lacks, NOLOGIN (a throwaway server: nobody logs in as them). */
async function mirrorRoles(scratch: Endpoint, roles: string[], log: Log): Promise<void> {
  const admin = await DatabaseSession.open(scratch.db, scratch.reach);
  try {
    const have = new Set(
      (await admin.client.query<{ name: string }>('SELECT rolname AS name FROM pg_roles')).rows.map(
        (r) => r.name,
      ),
    );
    const missing = roles.filter((r) => !have.has(r));
    for (const role of missing) await admin.client.query(`CREATE ROLE ${quoteIdent(role)} NOLOGIN`);
    if (missing.length)
      log.info(
        `rehearsal: ${missing.length} role(s) of production made on the scratch server, NOLOGIN, for the migrations' GRANT and OWNER TO: ${missing.join(', ')}`,
      );
  } catch (error) {
    log.warn(
      `rehearsal: production's roles could not be made on the scratch server (${errorText(error)}); a migration granting to one will fail there`,
    );
  } finally {
    await admin.close();
  }
}

/** Every table's rows as restored (the statistics pg_restore's loads left, or the planner's estimate). */
async function tableRows(session: DatabaseSession): Promise<Map<string, number>> {
  const result = await session.client.query<{ rel: string; rows: string }>(
    `SELECT n.nspname || '.' || c.relname AS rel,
            greatest(coalesce(s.n_live_tup, 0), c.reltuples::bigint, 0)::bigint AS rows
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
      WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
  );
  return new Map(result.rows.map((r) => [r.rel, Number(r.rows)]));
}

function describeLimit(limit: LockLimit): string {
  return `${limit.mode} or stronger held over ${formatDuration(limit.overMs)}${limit.rowsOver ? ` on a table of more than ${limit.rowsOver} rows` : ''}`;
}

export async function rehearse(
  options: RehearsalOptions,
  deps: { log: Log; signal?: AbortSignal },
): Promise<RehearsalReport> {
  const { log } = deps;
  const files = await readMigrations(options.dir, 'migrations-dir', options.confinement);
  const backup = await openRehearsalBackup(options.backup);
  const tools = findClientTools(
    backup.manifest?.tools.major ?? 0,
    `the backup ${backup.path}`,
    options.binDir,
  );
  const report: RehearsalReport = {
    backup: backup.path,
    restoreMs: 0,
    applyMs: 0,
    otherMs: 0,
    files: [],
    violations: [],
  };
  const lifecycle = performance.now();
  // Production's roles are read while the scratch server is reached, and made there while the
  // scratch database is created: none of the three waits on another until the restore.
  const reading = options.production ? productionRoles(options.production, log) : Promise.resolve([]);
  const scratch = await openEndpoint(options.scratch, undefined, log).catch(async (error: unknown) => {
    await reading.catch(() => undefined);
    throw error;
  });
  const mirroring = reading.then((roles) => (roles.length ? mirrorRoles(scratch, roles, log) : undefined));
  mirroring.catch(() => undefined); // awaited inside, or its failure is the one thrown
  try {
    await withScratchDatabase(scratch, 'runbook_rehearse', async (name) => {
      await mirroring;
      log.info(`rehearsal: restoring ${backup.path} into ${name} on the scratch server`);
      // Every file is parsed while the backup restores (the parser's start-up and its work hide
      // behind pg_restore); which of them are pending is known after, from the copy's tracking table.
      const parsing = pendingStatements(files, options.maxFileBytes);
      parsing.catch(() => undefined); // a file that does not parse is told below, if it is pending
      report.restoreMs = await loadBackup(
        tools,
        backup.path,
        backup.format,
        { db: scratch.db, reach: scratch.reach, database: name },
        'scratch',
        deps.signal,
      );
      log.info(`rehearsal: restored in ${report.restoreMs} ms`);
      const [opened, watching] = await Promise.allSettled([
        DatabaseSession.open(scratch.db, scratch.reach, name),
        DatabaseSession.open(scratch.db, scratch.reach, name),
      ]);
      if (opened.status === 'rejected' || watching.status === 'rejected') {
        for (const s of [opened, watching]) if (s.status === 'fulfilled') await s.value.close();
        throw opened.status === 'rejected' ? opened.reason : (watching as PromiseRejectedResult).reason;
      }
      const session = opened.value;
      const observer = watching.value;
      try {
        const plan = planMigrations(files, await readApplied(session, options.table));
        refuseUnsafe(plan, options.allowOutOfOrder);
        // A file that does not parse but is applied already is not this rehearsal's business.
        const statements = await parsing.catch(() => pendingStatements(plan.pending, options.maxFileBytes));
        if (!plan.pending.length) log.info('rehearsal: nothing pending on the copy of production');
        if (plan.pending.length) await ensureTracking(session, options.table);
        const pid = Number(
          (await session.client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid,
        );
        // The tracking table's own row and lock are the runner's, not the migration's.
        const ignored = new Set([`${options.table.schema ?? 'public'}.${options.table.name}`]);
        const sampler = new LockSampler(observer, pid, ignored);
        // Table sizes as production has them; a table a migration makes is new (0 rows).
        const rowsAtStart = await tableRows(observer);
        const applying = performance.now();
        for (const file of plan.pending) {
          if (deps.signal?.aborted) throw deps.signal.reason;
          sampler.start();
          const started = performance.now();
          let error: string | undefined;
          let rowsTouched = 0;
          try {
            ({ rowsTouched } = await applyMigration(
              session,
              options.table,
              file,
              statements.get(file.file) ?? [],
              options.timeouts,
              `rehearsal by ${options.appliedBy}`,
              () => sampler.look(session),
            ));
          } catch (e) {
            error = errorText(e);
          }
          const durationMs = Math.round(performance.now() - started);
          const locks = await sampler.stop();
          if (sampler.failure)
            log.warn(`rehearsal: lock sampling of ${file.file} stopped early: ${sampler.failure}`);
          const rehearsed: RehearsedFile = {
            file: file.file,
            durationMs,
            rowsTouched,
            locks: locks.map((l) => ({ ...l, rows: rowsAtStart.get(l.table) ?? 0 })),
            ...(error ? { error } : {}),
          };
          report.files.push(rehearsed);
          log.info(
            `rehearsal: ${file.file} ${error ? 'FAILED' : 'applied'} in ${durationMs} ms, ${rowsTouched} rows touched; ${rehearsed.locks.map((l) => `${l.mode} on ${l.table} ${l.heldMs} ms (~${l.rows} rows)`).join(', ') || 'no table lock seen'}`,
          );
          if (error) {
            report.violations.push(`${file.file} failed on the copy of production: ${error}`);
            break;
          }
          if (options.maxDurationMs && durationMs > options.maxDurationMs)
            report.violations.push(
              `${file.file} took ${formatDuration(durationMs)}, over rehearse-max-duration (${formatDuration(options.maxDurationMs)})`,
            );
          for (const lock of rehearsed.locks)
            for (const limit of options.lockLimits)
              if (
                lockRank(lock.mode) >= lockRank(limit.mode) &&
                lock.heldMs > limit.overMs &&
                lock.rows > limit.rowsOver
              )
                report.violations.push(
                  `${file.file} held ${lock.mode} on ${lock.table} for ${formatDuration(lock.heldMs)} (a table of ~${lock.rows} rows), over rehearse-max-lock (${describeLimit(limit)})`,
                );
        }
        report.applyMs = Math.round(performance.now() - applying);
      } finally {
        await observer.close();
        await session.close();
      }
    });
    report.otherMs = Math.round(performance.now() - lifecycle - report.restoreMs - report.applyMs);
  } catch (error) {
    if (error instanceof OperationError) {
      report.failure = error;
      return report;
    }
    throw error;
  } finally {
    await mirroring.catch(() => undefined); // its session closed before the scratch server's tunnel
    await scratch.close();
  }
  if (report.violations.length)
    report.failure = new SafetyRefusal(
      `The rehearsal on a copy of production (${backup.path}) stopped it: ${report.violations.join('; ')}. Nothing was applied to production.`,
      'rewrite the migration so it holds no strong lock for long (CREATE INDEX CONCURRENTLY, ADD CONSTRAINT … NOT VALID then VALIDATE, backfill in batches), or raise rehearse-max-lock / rehearse-max-duration for it if a maintenance window covers it.',
    );
  return report;
}
