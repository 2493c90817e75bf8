/**
 * One node-pg connection: the server's version, the list of tables a dump holds data for, and their
 * exact row counts — in an exported snapshot, so the counts describe exactly the rows pg_dump wrote.
 */
import type pg from 'pg';
import { OperationError } from '../errors.js';
import { clientConfig, describeDatabase, quoteIdent, type DatabaseUrl, type Reach } from './database-url.js';

export interface ServerVersion {
  version: string;
  major: number;
}

export interface TableName {
  schema: string;
  name: string;
}

export function tableKey(table: TableName): string {
  return `${table.schema}.${table.name}`;
}

/** Connection failures in words an engineer can act on; the password is never part of them. */
export function connectFailure(db: DatabaseUrl, error: unknown): OperationError {
  const code = (error as { code?: string }).code;
  const detail = error instanceof Error ? error.message : String(error);
  const hint =
    code === '28P01' || code === '28000'
      ? 'the user or password was refused: check the database-url secret (the value is not shown).'
      : code === '3D000'
        ? 'the database does not exist on that server: check the name in the URL.'
        : code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'ENOTFOUND'
          ? 'the server is not reachable from here: when it listens only on the droplet, set ssh-host (and the SSH inputs) to go through it.'
          : 'check the server is up (systemctl status postgresql on the droplet) and the URL.';
  return new OperationError(
    `Could not connect to PostgreSQL ${describeDatabase(db)}: ${detail}${code ? ` [${code}]` : ''}.`,
    hint,
    { cause: error },
  );
}

/**
 * An error PostgreSQL itself reported (it carries a SQLSTATE and a severity) during a procedure: the
 * user's database said no — privileges, a missing schema — which is not a bug in this suite.
 */
export function databaseFailure(error: unknown, what: string): unknown {
  const e = error as { code?: unknown; severity?: unknown; message?: unknown };
  if (!(error instanceof Error) || typeof e.code !== 'string' || typeof e.severity !== 'string') return error;
  return new OperationError(
    `${what} failed: PostgreSQL said ${error.message} [${e.code}].`,
    e.code === '42501'
      ? 'the role in the URL lacks a privilege it needs here: grant it, or use the owner role.'
      : "read PostgreSQL's message; fix the cause in the database or the inputs and run again.",
    { cause: error },
  );
}

export class DatabaseSession {
  private constructor(
    readonly client: pg.Client,
    readonly db: DatabaseUrl,
  ) {}

  static async open(db: DatabaseUrl, reach: Reach, database = db.database): Promise<DatabaseSession> {
    // Loaded on demand so input errors do not wait for it.
    const { default: pgModule } = await import('pg');
    const client = new pgModule.Client(clientConfig(db, reach, database));
    // A server that goes away between queries must fail the next query, not crash the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => undefined);
      throw connectFailure({ ...db, database }, error);
    }
    return new DatabaseSession(client, { ...db, database });
  }

  async serverVersion(): Promise<ServerVersion> {
    const result = await this.client.query<{ v: string; n: string }>(
      "SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n",
    );
    const row = result.rows[0] as { v: string; n: string };
    return { version: row.v.split(' ')[0] as string, major: Math.floor(Number(row.n) / 10000) };
  }

  /**
   * Begins a read-only REPEATABLE READ transaction and exports its snapshot for pg_dump --snapshot.
   * The transaction must stay open until pg_dump has started (we keep it until the counts are done).
   */
  async exportSnapshot(): Promise<string> {
    await this.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const result = await this.client.query<{ id: string }>('SELECT pg_export_snapshot() AS id');
    return (result.rows[0] as { id: string }).id;
  }

  async commit(): Promise<void> {
    await this.client.query('COMMIT');
  }

  /**
   * The tables whose rows pg_dump writes: ordinary tables (partitions included, partitioned parents
   * hold no rows of their own) outside the system schemas, minus tables that belong to an extension.
   */
  async dataTables(): Promise<TableName[]> {
    const result = await this.client.query<TableName>(
      `SELECT n.nspname AS schema, c.relname AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r'
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY 1, 2`,
    );
    return result.rows;
  }

  /** Exact row counts (count(*) of each table itself, ONLY: a child table is counted as itself). */
  async countRows(
    tables: TableName[],
    signal?: AbortSignal,
    /** Beside a pg_dump, in its exporting transaction: one process per count, no parallel workers. */
    alongside = false,
  ): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    // A parallel count takes two more cores for a moment: on a droplet's few, from pg_dump's COPY
    // (the backup's critical path) and from the app. Alone it still ends long before the dump does.
    if (alongside) await this.client.query('SET LOCAL max_parallel_workers_per_gather = 0');
    for (const table of tables) {
      if (signal?.aborted) break;
      let result;
      try {
        result = await this.client.query<{ n: string }>(
          `SELECT count(*) AS n FROM ONLY ${quoteIdent(table.schema)}.${quoteIdent(table.name)}`,
        );
      } catch (error) {
        throw new OperationError(
          `Counting the rows of ${tableKey(table)} in ${describeDatabase(this.db)} failed: ${error instanceof Error ? error.message : String(error)}.`,
          'the role in the URL must be able to read every table, as pg_dump must: GRANT SELECT on it, or back up as the owner.',
          { cause: error },
        );
      }
      counts[tableKey(table)] = Number((result.rows[0] as { n: string }).n);
    }
    return counts;
  }

  /** Extensions installed in this database. */
  async extensions(): Promise<Set<string>> {
    const result = await this.client.query<{ name: string }>('SELECT extname AS name FROM pg_extension');
    return new Set(result.rows.map((r) => r.name));
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}
