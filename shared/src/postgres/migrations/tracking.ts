/**
 * The tracking table (`runbook_migrations` by default): one row per applied migration with its
 * checksum, when, by whom and how long — state that lives in the database, not in a runner.
 */
import { ConfigurationError } from '../../errors.js';
import { quoteIdent } from '../database-url.js';
import type { DatabaseSession } from '../session.js';

export interface TableRef {
  schema?: string;
  name: string;
}

export interface AppliedRow {
  version: string;
  name: string;
  sha256: string;
  applied_at: Date;
  applied_by: string;
  duration_ms: number;
}

export function parseTableRef(input: string, raw: string): TableRef {
  const match = /^(?:([A-Za-z_][A-Za-z0-9_]*)\.)?([A-Za-z_][A-Za-z0-9_]*)$/.exec(raw.trim());
  if (!match)
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not a table name; use letters, digits and _ (optionally schema.table).`,
    );
  return { ...(match[1] ? { schema: match[1] } : {}), name: match[2] as string };
}

export function sqlName(table: TableRef): string {
  return table.schema ? `${quoteIdent(table.schema)}.${quoteIdent(table.name)}` : quoteIdent(table.name);
}

export async function trackingExists(session: DatabaseSession, table: TableRef): Promise<boolean> {
  const result = await session.client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [
    sqlName(table),
  ]);
  return result.rows[0]?.ok === true;
}

export async function ensureTracking(session: DatabaseSession, table: TableRef): Promise<void> {
  // A tracking table in its own schema (`ops.runbook_migrations`) brings the schema with it.
  if (table.schema) await session.client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(table.schema)}`);
  await session.client.query(`CREATE TABLE IF NOT EXISTS ${sqlName(table)} (
    version     numeric PRIMARY KEY,
    name        text NOT NULL,
    sha256      text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    applied_by  text NOT NULL,
    duration_ms integer NOT NULL
  )`);
}

export async function readApplied(session: DatabaseSession, table: TableRef): Promise<AppliedRow[]> {
  if (!(await trackingExists(session, table))) return [];
  const result = await session.client.query<AppliedRow>(
    `SELECT version::text AS version, name, sha256, applied_at, applied_by, duration_ms FROM ${sqlName(table)} ORDER BY version`,
  );
  return result.rows;
}

export async function recordApplied(
  session: DatabaseSession,
  table: TableRef,
  row: Omit<AppliedRow, 'applied_at'>,
): Promise<void> {
  await session.client.query(
    `INSERT INTO ${sqlName(table)} (version, name, sha256, applied_by, duration_ms) VALUES ($1, $2, $3, $4, $5)`,
    [row.version, row.name, row.sha256, row.applied_by, row.duration_ms],
  );
}

export async function removeApplied(
  session: DatabaseSession,
  table: TableRef,
  version: string,
): Promise<void> {
  await session.client.query(`DELETE FROM ${sqlName(table)} WHERE version = $1`, [version]);
}
