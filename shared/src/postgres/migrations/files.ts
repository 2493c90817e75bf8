/**
 * The migrations folder: `NNN_name.sql` with an optional `NNN_name_rollback.sql` beside it. Any other
 * `.sql` name is an error naming the file — a typo must not be skipped silently — and so are two files
 * with one version.
 */
import { builtin } from '../../builtins.js';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigurationError } from '../../errors.js';
import { splitStatements } from './statements.js';

export interface MigrationFile {
  /** The digits as written (`007`), compared as a number. */
  version: string;
  name: string;
  file: string;
  sql: string;
  sha256: string;
  /** First line `-- runbook:no-transaction`: run statement by statement outside a transaction. */
  noTransaction: boolean;
  rollback?: { file: string; sql: string };
}

const MIGRATION = /^(\d+)_([A-Za-z0-9][A-Za-z0-9_.-]*?)(_rollback)?\.sql$/;
export const NO_TRANSACTION = /^--\s*runbook:no-transaction\s*$/;

export function versionNumber(version: string): bigint {
  return BigInt(version);
}

export function compareVersions(a: string, b: string): number {
  const x = versionNumber(a);
  const y = versionNumber(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function sha256(text: string): string {
  return builtin.crypto.createHash('sha256').update(text).digest('hex');
}

export async function readMigrations(dir: string, input = 'migrations-dir'): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(dir)} is not a readable directory (is the repository checked out?).`,
    );
  }
  const forward = new Map<string, MigrationFile>();
  const rollbacks = new Map<string, { file: string; sql: string; name: string }>();
  for (const file of names.filter((n) => n.toLowerCase().endsWith('.sql')).sort()) {
    const match = MIGRATION.exec(file);
    if (!match) {
      throw new ConfigurationError(
        input,
        `holds ${JSON.stringify(file)}, which is not NNN_name.sql or NNN_name_rollback.sql: rename it (a migration that is skipped silently is worse than one that fails).`,
      );
    }
    const [, version, name, isRollback] = match as unknown as [string, string, string, string | undefined];
    const raw = await readFile(join(dir, file), 'utf8');
    // An editor's byte-order mark is not SQL (the checksum still covers the file as it is).
    const sql = raw.replace(/^\uFEFF/, '');
    const key = versionNumber(version).toString();
    if (isRollback) {
      if (rollbacks.has(key))
        throw new ConfigurationError(input, `has two rollback files for version ${version}.`);
      rollbacks.set(key, { file, sql, name });
      continue;
    }
    const existing = forward.get(key);
    if (existing)
      throw new ConfigurationError(
        input,
        `has two migrations numbered ${version}: ${existing.file} and ${file}.`,
      );
    const noTransaction = NO_TRANSACTION.test(sql.split('\n', 1)[0] ?? '');
    const control = splitStatements(sql).find((st) =>
      /^(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|END)\b/i.test(st.sql),
    );
    if (control && !noTransaction && !/\bBEGIN\s+ATOMIC\b/i.test(sql)) {
      throw new ConfigurationError(
        input,
        `holds ${file}, whose line ${control.line} (${control.sql.split(/\s/)[0]}) ends or starts a transaction: each migration already runs in one, so remove it — or put -- runbook:no-transaction on the first line.`,
      );
    }
    forward.set(key, {
      version,
      name,
      file,
      sql,
      sha256: sha256(raw),
      noTransaction,
    });
  }
  for (const [key, rollback] of rollbacks) {
    const migration = forward.get(key);
    if (!migration)
      throw new ConfigurationError(
        input,
        `holds the rollback ${rollback.file} but no migration numbered ${key}.`,
      );
    migration.rollback = { file: rollback.file, sql: rollback.sql };
  }
  return [...forward.values()].sort((a, b) => compareVersions(a.version, b.version));
}

/** 1-based line of a character offset (PostgreSQL's error `position`) in a text. */
export function lineAt(text: string, position: number): number {
  return text.slice(0, Math.max(0, position - 1)).split('\n').length;
}
