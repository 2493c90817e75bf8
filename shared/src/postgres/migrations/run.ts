/**
 * Applying and rolling back migrations on one session that holds a PostgreSQL advisory lock for the
 * whole run, so two runs (a deploy and an engineer's CLI) never interleave and each migration applies
 * exactly once. Each migration runs in its own transaction with lock_timeout and statement_timeout,
 * its tracking row written in the same transaction; a failure rolls both back.
 */
import { OperationError, SafetyRefusal, errorText } from '../../errors.js';
import { quoteIdent } from '../database-url.js';
import type { Log } from '../../log.js';
import type { DatabaseSession } from '../session.js';
import { lineAt, type MigrationFile } from './files.js';
import type { Statement } from './statements.js';
import { recordApplied, removeApplied, sqlName, type TableRef } from './tracking.js';

/** A migration that failed: PostgreSQL's SQLSTATE, and how many of its statements took effect (outside a transaction). */
export class MigrationFailed extends OperationError {
  constructor(
    message: string,
    hint: string,
    readonly code: string | undefined,
    readonly completedStatements: number,
  ) {
    super(message, hint);
  }
}

export const LOCK_NOT_AVAILABLE = '55P03';

export interface Timeouts {
  lockTimeoutMs: number;
  /** 0: none. */
  statementTimeoutMs: number;
}

/** One advisory lock per tracking table: runs against other tables do not block each other. */
function lockKey(table: TableRef): string {
  return `runbook-migrations:${sqlName(table)}`;
}

export async function acquireMigrationLock(
  session: DatabaseSession,
  table: TableRef,
  waitMs: number,
  log: Log,
): Promise<void> {
  const client = session.client;
  const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
    lockKey(table),
  ]);
  if (got.rows[0]?.ok) return;
  const holder = await client.query<{ pid: number; app: string; since: Date | null }>(
    `SELECT a.pid, coalesce(a.application_name, '') AS app, a.backend_start AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.objid = (hashtext($1)::bigint & 4294967295)::oid AND l.granted LIMIT 1`,
    [lockKey(table)],
  );
  const who = holder.rows[0]
    ? `pid ${holder.rows[0].pid}${holder.rows[0].app ? ` (${holder.rows[0].app})` : ''}`
    : 'another session';
  log.info(`another migration run holds the lock (${who}); waiting up to ${Math.round(waitMs / 1000)} s`);
  try {
    await client.query(`SET lock_timeout = ${Math.max(1, Math.round(waitMs))}`);
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey(table)]);
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') {
      throw new SafetyRefusal(
        `Another migration run (${who}) held the migration lock for longer than lock-wait (${Math.round(waitMs / 1000)} s). Nothing was applied.`,
        'wait for it to finish (a deploy pipeline, or an engineer running `runbook migrate`), then run again; raise lock-wait if it is expected.',
      );
    }
    throw error;
  } finally {
    await client.query('RESET lock_timeout').catch(() => undefined);
  }
}

export async function releaseMigrationLock(session: DatabaseSession, table: TableRef): Promise<void> {
  await session.client
    .query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey(table)])
    .catch(() => undefined);
}

/** `startLine`: where `sql` starts in the file, when it is one statement of it (else the line is known only from a position). */
function failureText(
  file: string,
  sql: string,
  error: unknown,
  startLine: number | undefined,
  timeouts?: Timeouts,
): string {
  const e = error as { position?: string; code?: string; detail?: string };
  const line = e.position ? lineAt(sql, Number(e.position)) + (startLine ?? 1) - 1 : startLine;
  const why =
    e.code === '55P03' && timeouts
      ? ` — lock-timeout (${timeouts.lockTimeoutMs} ms): it waited for a lock another session holds (a long query or transaction on that table)`
      : e.code === '57014' && timeouts?.statementTimeoutMs
        ? ` — statement-timeout (${timeouts.statementTimeoutMs} ms)`
        : '';
  return `${file}${line ? ` line ${line}` : ''}: ${errorText(error)}${e.detail ? ` (${e.detail})` : ''}${e.code ? ` [${e.code}]` : ''}${why}`;
}

async function setTimeouts(session: DatabaseSession, timeouts: Timeouts, local: boolean): Promise<void> {
  const scope = local ? 'SET LOCAL' : 'SET';
  await session.client.query(`${scope} lock_timeout = ${Math.round(timeouts.lockTimeoutMs)}`);
  await session.client.query(`${scope} statement_timeout = ${Math.round(timeouts.statementTimeoutMs)}`);
}

export interface AppliedMigration {
  version: string;
  name: string;
  file: string;
  sha256: string;
  durationMs: number;
  noTransaction: boolean;
  /** Rows its INSERT/UPDATE/DELETE/MERGE/COPY statements reported (the command tags' counts). */
  rowsTouched: number;
}

/** The rows a statement's command tag reports; none for DDL (and for a multi-statement result, their sum). */
function rowsOf(result: unknown): number {
  const results = Array.isArray(result) ? result : [result];
  return results.reduce(
    (sum: number, r: { command?: string; rowCount?: number | null }) =>
      sum + (r.command && r.command !== 'SELECT' && typeof r.rowCount === 'number' ? r.rowCount : 0),
    0,
  );
}

/** No answer from the server (a node socket error, or the server ending the session), not an SQL error. */
function connectionLost(error: unknown): boolean {
  const e = error as { code?: unknown; severity?: unknown };
  return typeof e.severity !== 'string' || /^(08|57P)/.test(String(e.code));
}

/**
 * Runs statements in one transaction and commits it, calling `last` inside before COMMIT. What a
 * failure message says about the outcome is what the server did: rolled back (ROLLBACK answered, or
 * the session died before COMMIT, which the server discards), or unknown when COMMIT itself got no
 * answer.
 */
async function inTransaction(
  session: DatabaseSession,
  run: { file: string; statements: Statement[]; timeouts: Timeouts; rows?: { touched: number } },
  words: { failed: string; rolledBack: string; advice: string },
  last: () => Promise<void>,
): Promise<void> {
  const client = session.client;
  await client.query('BEGIN');
  // The statement running when it failed; none once they all ran (then `last` failed).
  let running: Statement | undefined;
  try {
    await setTimeouts(session, run.timeouts, true);
    for (const statement of run.statements) {
      running = statement;
      const result = await client.query(statement.sql);
      if (run.rows) run.rows.touched += rowsOf(result);
    }
    running = undefined;
    await last();
  } catch (error) {
    const rolledBack = await client.query('ROLLBACK').then(
      () => true,
      () => false,
    );
    const where = running
      ? failureText(run.file, running.sql, error, running.line, run.timeouts)
      : `${run.file}: ${errorText(error)}`;
    throw new MigrationFailed(
      `${words.failed} ${where}. ${
        rolledBack
          ? `Nothing of it was applied: its transaction rolled back, ${words.rolledBack}.`
          : `The session to the database ended before COMMIT, and PostgreSQL discards a transaction that was not committed: nothing of it was applied, ${words.rolledBack}.`
      }`,
      words.advice,
      (error as { code?: string }).code,
      0,
    );
  }
  try {
    await client.query('COMMIT');
  } catch (error) {
    // A server that answers COMMIT with an error (a deferred constraint) has rolled the transaction back.
    if (!connectionLost(error))
      throw new OperationError(
        `${words.failed} ${run.file} failed at COMMIT: ${errorText(error)}. Nothing of it was applied: its transaction rolled back, ${words.rolledBack}.`,
        words.advice,
      );
    throw new OperationError(
      `The connection to the database was lost while committing ${run.file} (${errorText(error)}): whether it was applied is unknown — its tracking row is in the same transaction, so the tracking table tells.`,
      'run mode: status to see whether it is recorded as applied, then run again (an applied one is not applied twice).',
    );
  }
}

/** Applies one migration; throws an OperationError naming the file, the line and PostgreSQL's message. */
export async function applyMigration(
  session: DatabaseSession,
  table: TableRef,
  migration: MigrationFile,
  statements: Statement[],
  timeouts: Timeouts,
  appliedBy: string,
  /** Runs inside a transactional migration's transaction after its statements (the rehearsal reads its locks). */
  beforeCommit?: () => Promise<void>,
  /** Outside a transaction: the statements before this one took effect in an earlier attempt. */
  from = 0,
  log?: Log,
): Promise<AppliedMigration> {
  const client = session.client;
  const started = performance.now();
  const rows = { touched: 0 };
  const done = (): AppliedMigration => ({
    version: migration.version,
    name: migration.name,
    file: migration.file,
    sha256: migration.sha256,
    durationMs: Math.round(performance.now() - started),
    noTransaction: migration.noTransaction,
    rowsTouched: rows.touched,
  });
  const record = (result: AppliedMigration) =>
    recordApplied(session, table, {
      version: migration.version,
      name: migration.name,
      sha256: migration.sha256,
      applied_by: appliedBy,
      duration_ms: result.durationMs,
    });
  if (!migration.noTransaction) {
    let result: AppliedMigration | undefined;
    await inTransaction(
      session,
      { file: migration.file, statements, timeouts, rows },
      {
        failed: 'Migration',
        rolledBack: 'the tracking table is unchanged',
        advice:
          'fix the migration (or wait out the session holding the lock) and run again; migrations before it stay applied.',
      },
      async () => {
        await beforeCommit?.();
        result = done();
        await record(result);
      },
    );
    return result as AppliedMigration;
  }
  // Outside a transaction: statement by statement; what ran before a failure stays.
  await setTimeouts(session, timeouts, false);
  try {
    for (const [n, statement] of statements.entries()) {
      if (n < from) continue;
      if (statement.concurrentIndex)
        await dropInvalidIndex(session, statement.concurrentIndex, migration.file, log);
      try {
        rows.touched += rowsOf(await client.query(statement.sql));
      } catch (error) {
        throw new MigrationFailed(
          `Migration ${failureText(migration.file, statement.sql, error, statement.line, timeouts)}. It runs outside a transaction (-- runbook:no-transaction): ${n} of ${statements.length} statements before it took effect and stay; it is not recorded as applied.`,
          'inspect what the earlier statements did, make the file safe to run again (IF NOT EXISTS), and run again.',
          (error as { code?: string }).code,
          n,
        );
      }
    }
    const result = done();
    await record(result);
    return result;
  } finally {
    await client.query('RESET lock_timeout; RESET statement_timeout').catch(() => undefined);
  }
}

/**
 * An interrupted `CREATE INDEX CONCURRENTLY` (a lock timeout while it waited for old transactions, a
 * cancelled run) leaves its index INVALID: never used by the planner, still maintained on every write,
 * and skipped by a rerun's `IF NOT EXISTS`. Found by name before the statement runs, reported, dropped.
 */
export async function dropInvalidIndex(
  session: DatabaseSession,
  index: { schema?: string; name: string },
  file: string,
  log?: Log,
): Promise<boolean> {
  const qualified = index.schema
    ? `${quoteIdent(index.schema)}.${quoteIdent(index.name)}`
    : quoteIdent(index.name);
  const found = await session.client.query<{ valid: boolean }>(
    'SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)',
    [qualified],
  );
  if (!found.rows.length || found.rows[0]?.valid) return false;
  log?.warn(
    `${file}: index ${qualified} is INVALID (left by an interrupted CREATE INDEX CONCURRENTLY); dropping it before building it again`,
  );
  await session.client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${qualified}`);
  return true;
}

/** Runs a migration's rollback file and removes its tracking row, in one transaction. */
export async function rollBackMigration(
  session: DatabaseSession,
  table: TableRef,
  migration: MigrationFile,
  statements: Statement[],
  timeouts: Timeouts,
): Promise<number> {
  const rollback = migration.rollback as NonNullable<MigrationFile['rollback']>;
  const started = performance.now();
  await inTransaction(
    session,
    { file: rollback.file, statements, timeouts },
    {
      failed: 'Rollback',
      rolledBack: 'the migration stays applied',
      advice: 'fix the rollback file and run again.',
    },
    () => removeApplied(session, table, migration.version),
  );
  return Math.round(performance.now() - started);
}
