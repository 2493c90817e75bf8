/**
 * The migrations folder: `NNN_name.sql` with an optional `NNN_name_rollback.sql` beside it. Any other
 * `.sql` name is an error naming the file — a typo must not be skipped silently — and so are two files
 * with one version.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import { formatBytes } from '../../config/parse.js';
import { ConfigurationError } from '../../errors.js';
import { readStatements, type Statement } from './statements.js';
import { MIGRATION } from './names.js';

export interface MigrationFile {
  /** The digits as written (`007`), compared as a number. */
  version: string;
  name: string;
  file: string;
  sql: string;
  sha256: string;
  /** First line `-- runbook:no-transaction`: run statement by statement outside a transaction. */
  noTransaction: boolean;
  /** A line `-- runbook:irreversible`: never rolled back, and no code rollback goes past it. */
  irreversible: boolean;
  rollback?: { file: string; sql: string };
}

export { DEFAULT_MAX_FILE_BYTES } from './names.js';

export const NO_TRANSACTION = /^--\s*runbook:no-transaction\s*$/;
const IRREVERSIBLE = /^[ \t]*--\s*runbook:irreversible\b/m;

export function versionNumber(version: string): bigint {
  return BigInt(version);
}

export function compareVersions(a: string, b: string): number {
  const x = versionNumber(a);
  const y = versionNumber(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Where the files may be: inside `root` (the workspace) unless the caller allowed otherwise. */
export interface Confinement {
  root: string;
  /** The input that allows a folder or file outside it. */
  allowedBy: string;
}

/** `confinement.root` already resolved (readMigrations resolves it once). */
async function refuseOutside(
  path: string,
  confinement: Confinement | undefined,
  input: string,
  what: string,
) {
  if (!confinement) return;
  const real = await realpath(path);
  const rel = relative(confinement.root, real);
  if (rel.startsWith('..') || isAbsolute(rel))
    throw new ConfigurationError(
      input,
      `${what} resolves to ${real}, outside the workspace ${confinement.root} (a symbolic link?): nothing was read or applied. Set ${confinement.allowedBy}: true if migrations really live there.`,
    );
}

export async function readMigrations(
  dir: string,
  input = 'migrations-dir',
  confinement?: Confinement,
): Promise<MigrationFile[]> {
  // Only the files that will run are parsed (statementsToRun): an applied file is never judged again.
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(dir)} is not a readable directory (is the repository checked out?).`,
    );
  }
  const within = confinement && { ...confinement, root: await realpath(confinement.root) };
  await refuseOutside(dir, within, input, JSON.stringify(dir));
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
    await refuseOutside(join(dir, file), within, input, `its file ${file}`);
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
    forward.set(key, {
      version,
      name,
      file,
      sql,
      sha256: sha256(raw),
      noTransaction,
      irreversible: IRREVERSIBLE.test(sql),
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

/**
 * The statements of the files about to run, read by PostgreSQL's parser before anything is applied.
 * Every file's problem is named at once (file, line, what to do); a file over `maxBytes` is not parsed.
 */
export async function statementsToRun(
  runs: { file: string; sql: string; transactional: boolean; role: 'migration' | 'rollback' }[],
  maxBytes: number,
  input = 'migrations-dir',
): Promise<Map<string, Statement[]>> {
  const statements = new Map<string, Statement[]>();
  const problems: string[] = [];
  for (const run of runs) {
    const bytes = Buffer.byteLength(run.sql);
    if (bytes > maxBytes) {
      problems.push(
        `${run.file} is ${formatBytes(bytes)}, over max-file-size (${formatBytes(maxBytes)}): raise max-file-size to apply it, or load bulk data outside migrations (pg_restore, COPY from a server file)`,
      );
      continue;
    }
    const parsed = await readStatements(run.sql, run);
    if (parsed.problem !== undefined) problems.push(`${run.file} ${parsed.problem}`);
    else statements.set(run.file, parsed.statements);
  }
  if (problems.length)
    throw new ConfigurationError(input, `holds ${problems.join('; ')}. Nothing was applied.`);
  return statements;
}

/** The pending migrations' statements, each file read as it will run (in a transaction, or not). */
export function pendingStatements(
  pending: MigrationFile[],
  maxBytes: number,
): Promise<Map<string, Statement[]>> {
  return statementsToRun(
    pending.map((f) => ({
      file: f.file,
      sql: f.sql,
      transactional: !f.noTransaction,
      role: 'migration' as const,
    })),
    maxBytes,
  );
}

/** 1-based line of a character offset (PostgreSQL's error `position`) in a text. */
export function lineAt(text: string, position: number): number {
  return text.slice(0, Math.max(0, position - 1)).split('\n').length;
}
