/**
 * Whether a restore fits in one transaction. Every relation it drops or creates (tables, their TOAST
 * table and index, indexes, sequences, views) stays locked until COMMIT, and all of a server's locks
 * share one table sized max_locks_per_transaction × (server processes + prepared transactions). A
 * restore of a 2000-table backup over the live database runs out of it part way ("out of shared
 * memory") and rolls back — after the safety backup, after minutes. Counted first, it is refused with
 * the setting to raise. The count: what the backup creates (every table assumed to have a TOAST table)
 * and what dropping the application's objects in the target locks (counted there exactly) — on
 * PostgreSQL 15 the same as pg_locks showed at COMMIT for 500 tables over their live database.
 */
import { OperationError } from '../errors.js';
import type { ClientTools } from './client-tools.js';
import { openPlainDump, SqlLineFilter } from './plain-dump.js';
import type { BackupFormat } from './manifest.js';
import { runRestoreTool } from './archive-input.js';
import type { DatabaseSession } from './session.js';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';

/** A table brings its TOAST table and the TOAST table's index with it. */
const PER_TABLE = 3;
/** pg_class's own OID: an archive entry of this catalog creates a relation. */
const PG_CLASS = '1259';

export interface LockTable {
  /** How many locks the server's shared lock table holds, by its own sizing rule. */
  capacity: number;
  maxLocksPerTransaction: number;
  /** Server processes and prepared transactions the table is sized for. */
  slots: number;
}

export async function lockTable(session: DatabaseSession): Promise<LockTable> {
  const { rows } = await session.client.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings
      WHERE name IN ('max_locks_per_transaction', 'max_connections', 'autovacuum_max_workers',
                     'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions')`,
  );
  const setting = (name: string) => Number(rows.find((r) => r.name === name)?.setting ?? 0);
  // MaxBackends as PostgreSQL computes it (connections, autovacuum workers and launcher, background
  // workers, WAL senders), plus prepared transactions: src/backend/storage/lmgr/lock.c NLOCKENTS().
  const slots =
    setting('max_connections') +
    setting('autovacuum_max_workers') +
    1 +
    setting('max_worker_processes') +
    setting('max_wal_senders') +
    setting('max_prepared_transactions');
  const maxLocksPerTransaction = setting('max_locks_per_transaction');
  return { capacity: maxLocksPerTransaction * slots, maxLocksPerTransaction, slots };
}

/**
 * What dropping the application's objects locks: each relation of its schemas (with TOAST tables and
 * their indexes), each one's row type, each column default and each constraint.
 */
export async function lockedByReplacing(session: DatabaseSession): Promise<number> {
  const { rows } = await session.client.query<{ n: string }>(
    `WITH own AS (SELECT oid FROM pg_namespace
                   WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                     AND nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'),
          rel AS (SELECT c.oid, c.relkind, c.reltoastrelid FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM own))
     SELECT (SELECT count(*) + 2 * count(*) FILTER (WHERE reltoastrelid <> 0) FROM rel)
          + (SELECT count(*) + count(*) FILTER (WHERE reltoastrelid <> 0) FROM rel WHERE relkind IN ('r', 'p', 'v', 'm', 'f'))
          + (SELECT count(*) FROM pg_attrdef WHERE adrelid IN (SELECT oid FROM rel))
          + (SELECT count(*) FROM pg_constraint WHERE connamespace IN (SELECT oid FROM own)) AS n`,
  );
  return Number(rows[0]?.n ?? 0);
}

/** Relations an archive's table of contents creates: its pg_class entries, and the indexes of its constraints. */
export function relationsInArchiveList(list: string): number {
  let relations = 0;
  for (const line of list.split('\n')) {
    // "<id>; <catalog oid> <object oid> <TYPE> <schema> <name> <owner>", comments start with ';'.
    const entry = /^\d+; (\d+) \d+ (.+)$/.exec(line);
    if (!entry) continue;
    const [, catalog, rest] = entry as unknown as [string, string, string];
    if (catalog === PG_CLASS)
      relations += /^(TABLE|MATERIALIZED VIEW) /.test(rest) && !/^TABLE ATTACH /.test(rest) ? PER_TABLE : 1;
    // A primary key, unique or exclusion constraint is an index; a CHECK one adds nothing, but
    // pg_dump lists those inside the table and rarely as an entry of their own.
    else if (/^CONSTRAINT /.test(rest)) relations += 1;
  }
  return relations;
}

const PLAIN_RELATION =
  /^(?:CREATE (?:UNLOGGED |FOREIGN )?TABLE |CREATE MATERIALIZED VIEW )|^(CREATE (?:UNIQUE )?INDEX |CREATE SEQUENCE |CREATE VIEW |CREATE OR REPLACE VIEW | {4}ADD CONSTRAINT \S+ (?:PRIMARY KEY|UNIQUE|EXCLUDE))/;

/** Relations a plain dump creates, read line by line outside its COPY data. */
export async function relationsInPlainDump(path: string, gzipped: boolean): Promise<number> {
  let relations = 0;
  const count = (line: string) => {
    const match = PLAIN_RELATION.exec(line);
    if (match) relations += match[1] ? 1 : PER_TABLE;
    return false;
  };
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  await pipeline(openPlainDump(path, gzipped), new SqlLineFilter(count), sink);
  return relations;
}

export async function relationsInBackup(
  tools: ClientTools,
  path: string,
  format: BackupFormat | 'plain',
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<number> {
  if (format === 'custom' || format === 'directory' || format === 'custom-zstd')
    return relationsInArchiveList(
      await runRestoreTool(tools, ['--list'], path, format, {
        env,
        ...(signal ? { signal } : {}),
        hint: 'the backup cannot be listed: verify it, and restore from another backup.',
      }),
    );
  return relationsInPlainDump(path, format === 'plain-gzip');
}

/**
 * How far past its nominal size the lock table grows into spare shared memory before "out of shared
 * memory": measured 1.63 on PostgreSQL 15 with its default settings (12755 advisory locks in one
 * transaction, nominal 7808). Above half as much again, the restore is refused; between, warned.
 */
const OVERRUN = 1.5;

export interface LockVerdict {
  /** The estimate of locks held at COMMIT. */
  needed: number;
  /** Set when the restore may run out of locks: said before it starts. */
  warning?: string;
}

/**
 * Refuses, changing nothing, a restore whose one transaction would lock more than the server's lock
 * table can hold; says what to raise, or where else to restore.
 */
export function checkLockBudget(
  needed: { backup: number; target: number },
  table: LockTable,
  what: { file: string; database: string },
): LockVerdict {
  const total = needed.backup + needed.target;
  // Enough for the restore with a quarter to spare for everyone else, in the steps people set it in.
  const raise = Math.ceil((total * 1.25) / table.slots / 64) * 64;
  const advice = `raise max_locks_per_transaction to ${raise} on that server (ALTER SYSTEM SET max_locks_per_transaction = ${raise}; then restart PostgreSQL), or restore into an empty database (target-database-url) and point the application at it`;
  const sizes = `about ${total} locks (${needed.backup} for what it creates, ${needed.target} for what it replaces in ${what.database}); the server's lock table is sized for ${table.capacity} (max_locks_per_transaction ${table.maxLocksPerTransaction} × ${table.slots} server processes)`;
  if (total > table.capacity * OVERRUN)
    throw new OperationError(
      `Refused to restore ${what.file}: its one transaction would hold ${sizes}; it would fail part way with "out of shared memory". Nothing was changed.`,
      `${advice}.`,
    );
  if (total > table.capacity)
    return {
      needed: total,
      warning: `this restore may run out of locks: its one transaction holds ${sizes}, and only spare shared memory can hold the rest. If it fails, it rolls back; then ${advice}.`,
    };
  return { needed: total };
}
