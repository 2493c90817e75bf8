/**
 * `mode: restore` — the runbook's Data Recovery, made safe. It refuses, touching nothing, unless
 * `confirm` names the target database; takes a safety backup of the target first; restores in one
 * transaction with errors stopping it (a failure leaves the target as it was); then counts every
 * table against the backup's manifest.
 */
import { ConfigurationError, OperationError, operationFailure, errorText } from '../errors.js';
import type { Log } from '../log.js';
import { throwIfCancelled } from '../cancel.js';
import { openBackupFile } from './backup-file.js';
import { fetchFromHost, type FromHost } from './fetch-from-host.js';
import { connectDatabase, disconnect, type DatabaseAccess } from './connect.js';
import { describeDatabase, toolEnvironment, type DatabaseUrl } from './database-url.js';
import { writeBackup, type Connected, type DumpSpec } from './dump.js';
import { compareCounts, describeMismatches, loadBackup } from './load.js';
import type { Mismatch } from './manifest.js';
import { clearBlockers, type BlockerPolicy } from './blockers.js';
import { DatabaseSession, databaseFailure } from './session.js';
import { checkLockBudget, lockedByReplacing, lockTable, relationsInBackup } from './lock-budget.js';
import type { BackupFile } from './backup-file.js';
import { verifyBackup } from './verify.js';

export interface RestoreOptions {
  backup: string;
  /** The backup is a path on this host, fetched first (after the confirmation is checked). */
  fromHost?: FromHost;
  /** The database restored into (target-database-url, else database-url). */
  target: DatabaseAccess;
  confirm: string;
  /** Restore a backup whose manifest names another database (a copy of production into staging). */
  allowOtherDatabase: boolean;
  /** Other sessions' open transactions: waited for this long, then refused or terminated. */
  blockers: BlockerPolicy;
  /** Where the safety backup goes; undefined: none (safety-backup: false). */
  safety?: DumpSpec;
  dryRun: boolean;
}

export interface RestoreReport {
  restored: boolean;
  safetyBackup?: string;
  restoreMs?: number;
  tables?: Record<string, number>;
  mismatches: Mismatch[];
  plan: string[];
  failure?: OperationError;
}

export async function restore(
  options: RestoreOptions,
  deps: { log: Log; signal?: AbortSignal },
): Promise<RestoreReport> {
  const { log, signal } = deps;
  const target = options.target.db;
  if (options.confirm !== target.database) {
    throw new ConfigurationError(
      'confirm',
      `must be the name of the database being restored over, ${JSON.stringify(target.database)}${options.confirm ? ` (got ${JSON.stringify(options.confirm)})` : ''}: a restore replaces its data.`,
    );
  }
  const file = await openBackupFile(
    options.fromHost ? await fetchFromHost(options.backup, options.fromHost, log) : options.backup,
  );
  if (file.manifest && file.manifest.database !== target.database && !options.allowOtherDatabase)
    throw new ConfigurationError(
      'allow-other-database',
      `the backup ${file.path} is of database ${JSON.stringify(file.manifest.database)} (its manifest), not of ${JSON.stringify(target.database)} that it would replace; set allow-other-database: true if that is meant (a copy of production into staging). Nothing was changed.`,
    );
  const report: RestoreReport = { restored: false, mismatches: [], plan: [] };
  let connected: Connected | undefined;
  try {
    connected = await connectDatabase(options.target, log, file.manifest?.tools.major ?? 0);
    const what = `${file.path} (${file.format}${file.manifest ? `, taken ${file.manifest.finishedAt}` : ', no manifest'})`;
    report.plan = [
      options.safety
        ? `safety backup of ${describeDatabase(target)} into ${options.safety.dir}`
        : 'no safety backup (safety-backup: false)',
      `restore ${what} over ${describeDatabase(target)} in one transaction, errors stopping it`,
      file.manifest
        ? `check ${Object.keys(file.manifest.tables).length} tables' row counts against the manifest`
        : 'no manifest: row counts reported, not checked',
    ];
    if (options.dryRun) {
      for (const line of report.plan) log.info(`[dry-run] would ${line}`);
      await checkLocks(connected, target, file, log, signal);
      return report;
    }
    // A damaged file must be found before anything is touched, not half way through the transaction.
    const check = await verifyBackup(
      file.path,
      file.format,
      file.manifest,
      file.manifest ? 'checksum' : 'list',
      {
        tools: connected.tools,
        log,
        ...(signal ? { signal } : {}),
      },
    );
    if (!check.ok)
      throw new OperationError(
        `Refused to restore ${file.path}: ${check.problems.join('; ')}. Nothing was changed.`,
        'restore from another backup.',
      );
    await checkLocks(connected, target, file, log, signal);
    if (options.safety) {
      const safety = await writeBackup(connected, options.safety, log, signal);
      report.safetyBackup = safety.path;
      log.info(`safety backup of the target as it was: ${safety.path}`);
    }
    throwIfCancelled(signal);
    await clearBlockers(connected.session, target.database, options.blockers, log, signal);
    const tools = connected.tools;
    const endpoint = connected.endpoint;
    const extensions = await connected.session.extensions();
    await connected.session.close();
    log.info(`restoring ${what} over ${describeDatabase(target)} …`);
    try {
      report.restoreMs = await loadBackup(
        tools,
        file.path,
        file.format,
        {
          db: target,
          reach: endpoint.reach,
          database: target.database,
          extensions,
          lockTimeoutMs: options.blockers.waitMs,
        },
        'target',
        signal,
      );
    } catch (error) {
      throw new OperationError(
        `The restore into ${describeDatabase(target)} failed and was rolled back (one transaction): ${errorText(error)}`,
        `the database is as it was before${report.safetyBackup ? ` (and ${report.safetyBackup} holds it)` : ''}. ${restoreFailureAdvice(errorText(error), file.format)}`,
        { cause: error },
      );
    }
    report.restored = true;
    const after = await DatabaseSession.open(target, endpoint.reach);
    try {
      report.tables = await after.countRows(await after.dataTables());
    } finally {
      await after.close();
    }
    log.info(`restored in ${report.restoreMs} ms`);
    if (file.manifest) {
      const all = compareCounts(file.manifest.tables, report.tables);
      const extra = all.filter((m) => m.expected === null);
      report.mismatches = all.filter((m) => m.expected !== null);
      if (extra.length)
        log.warn(`tables not in the backup, left as they were: ${extra.map((m) => m.table).join(', ')}`);
      if (report.mismatches.length) {
        throw new OperationError(
          `Restored, but row counts differ from the backup's manifest: ${describeMismatches(report.mismatches)}.`,
          `the restore committed; compare with the manifest and the application's writes since.${report.safetyBackup ? ` ${report.safetyBackup} holds the database as it was before.` : ''}`,
        );
      }
      log.info(`every table's rows match the manifest (${Object.keys(file.manifest.tables).length} tables)`);
    }
    return report;
  } catch (error) {
    report.failure = operationFailure(databaseFailure(error, 'The restore'));
    return report;
  } finally {
    await disconnect(connected);
  }
}

/** Refuses (changing nothing) a restore too large for one transaction; warns of one that may be. */
async function checkLocks(
  connected: Connected,
  target: DatabaseUrl,
  file: BackupFile,
  log: Log,
  signal?: AbortSignal,
): Promise<void> {
  const env = toolEnvironment(target);
  const backup = await relationsInBackup(connected.tools, file.path, file.format, env, signal);
  const verdict = checkLockBudget(
    { backup, target: await lockedByReplacing(connected.session) },
    await lockTable(connected.session),
    { file: file.path, database: target.database },
  );
  if (verdict.warning) log.warn(verdict.warning);
}

/** What to do after a restore rolled back, from what stopped it and the kind of backup. */
export function restoreFailureAdvice(message: string, format: BackupFile['format']): string {
  if (/out of shared memory|max_locks_per_transaction/i.test(message))
    return 'The server ran out of locks for the one transaction: raise max_locks_per_transaction on that server (then restart PostgreSQL), or restore into an empty database (target-database-url).';
  if (/lock timeout/i.test(message))
    return 'Another session held a lock longer than lock-wait: find it (ops: long queries), or set terminate-blockers: true, and run the restore again.';
  if (/because other objects depend on it/.test(message)) {
    const detail = /because other objects depend on it[\s\S]*?DETAIL:\s*([^\n]+)/.exec(message)?.[1]?.trim();
    return `Objects that are not in the backup depend on objects it replaces${detail ? ` (${detail})` : ''} — made after the backup was taken: drop those (or their foreign keys) first if they are not needed, or restore into an empty database (target-database-url) and move what is needed across.`;
  }
  if (format !== 'custom' && format !== 'directory' && /already exists/.test(message))
    return 'A plain dump without DROP statements cannot restore over existing tables: restore it into an empty database (target-database-url).';
  return 'Read the error above; the restore can be run again once its cause is fixed.';
}
