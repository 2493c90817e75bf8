/**
 * Loading a backup into a database, errors stopping it, in the two ways the suite needs:
 * - `scratch`: a throwaway database for verification — parallel pg_restore, ownership and
 *   privileges left out (the scratch server lacks production's roles), nothing to roll back;
 * - `target`: the Data Recovery restore — one transaction (all or nothing), `--clean --if-exists`
 *   so the objects of the backup replace the ones there, owners and privileges kept.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OperationError } from '../errors.js';
import { startTool, type ClientTools } from './client-tools.js';
import { runRestoreTool, startRestoreTool } from './archive-input.js';
import { conninfo, toolEnvironment, type DatabaseUrl, type Reach } from './database-url.js';
import type { BackupFormat } from './manifest.js';
import { extensionLineOf, isOwnershipLine, openPlainDump, SqlLineFilter } from './plain-dump.js';
import type { Mismatch } from './manifest.js';

export type LoadMode = 'scratch' | 'target';

export interface LoadTarget {
  db: DatabaseUrl;
  reach: Reach;
  database: string;
  /** Extensions the target already has: their DROP/CREATE/COMMENT are left out (target mode). */
  extensions?: Set<string>;
  /** `lock_timeout` of the loading session (target mode): a lock is waited for this long at most. */
  lockTimeoutMs?: number;
}

/**
 * The archive's table of contents without the entries for extensions the target already has, as a
 * `pg_restore -L` list; undefined when nothing needs leaving out.
 */
async function restoreList(
  tools: ClientTools,
  path: string,
  format: BackupFormat,
  existing: Set<string>,
  env: NodeJS.ProcessEnv,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const toc = await runRestoreTool(tools, ['--list'], path, format, {
    env,
    ...(signal ? { signal } : {}),
    hint: RESTORE_HINT,
  });
  const lines = toc.split('\n');
  const kept = lines.filter((line) => {
    const match = / (?:EXTENSION - |COMMENT - EXTENSION )(\S+)/.exec(line);
    return !(match && !line.startsWith(';') && existing.has(match[1] as string));
  });
  if (kept.length === lines.length) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'runbook-restore-'));
  const file = join(dir, 'restore.list');
  await writeFile(file, kept.join('\n'));
  return file;
}

const RESTORE_HINT =
  "read the message above: an extension or role the backup needs may be missing on that server, or the server's version may be older than the backup's.";

export async function loadBackup(
  tools: ClientTools,
  path: string,
  format: BackupFormat | 'plain',
  into: LoadTarget,
  mode: LoadMode,
  signal?: AbortSignal,
): Promise<number> {
  const started = performance.now();
  const env = toolEnvironment(into.db);
  // A lock taken while loading waits this long, then fails the (one) transaction: never for ever.
  if (into.lockTimeoutMs !== undefined)
    env.PGOPTIONS = `-c lock_timeout=${Math.max(1, Math.round(into.lockTimeoutMs))}`;
  const dbname = `--dbname=${conninfo(into.db, into.reach, into.database)}`;
  if (format === 'custom' || format === 'directory' || format === 'custom-zstd') {
    const args =
      mode === 'scratch'
        ? [
            '--no-password',
            '--exit-on-error',
            '--no-owner',
            '--no-privileges',
            '--no-subscriptions',
            // Parallel jobs seek in the file; a .dump.zst is read through a pipe, in order.
            ...(format === 'custom-zstd'
              ? []
              : [`--jobs=${Math.max(2, Math.min(8, availableParallelism()))}`]),
          ]
        : ['--no-password', '--exit-on-error', '--single-transaction', '--clean', '--if-exists'];
    const list =
      mode === 'target' && into.extensions?.size
        ? await restoreList(tools, path, format, into.extensions, env, signal)
        : undefined;
    const run = startRestoreTool(
      tools,
      [...args, ...(list ? [`--use-list=${list}`] : []), dbname],
      path,
      format,
      {
        env,
        ...(signal ? { signal } : {}),
        hint: RESTORE_HINT,
      },
    );
    try {
      await run.done;
    } finally {
      if (list) await rm(dirname(list), { recursive: true, force: true });
    }
  } else {
    const run = startTool(
      tools,
      'psql',
      ['--no-password', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction', '-f', '-', dbname],
      { env, stdin: 'pipe', stdout: 'ignore', ...(signal ? { signal } : {}), hint: RESTORE_HINT },
    );
    const source = openPlainDump(path, format === 'plain-gzip');
    const stdin = run.child.stdin as NodeJS.WritableStream;
    // psql stops reading at its first error (EPIPE here): its own exit status says why.
    const leaveOut = mode === 'scratch' ? isOwnershipLine : extensionLineOf(into.extensions ?? new Set());
    const feeding = pipeline(source, new SqlLineFilter(leaveOut), stdin).catch((error: unknown) => error);
    await run.done;
    const fed = await feeding;
    if (
      fed instanceof Error &&
      !/EPIPE|ERR_STREAM_PREMATURE_CLOSE/.test(`${(fed as { code?: string }).code} ${fed.message}`)
    ) {
      throw new OperationError(
        `Reading ${path} failed: ${fed.message}.`,
        'the file is damaged or incomplete: verify it, and restore from another backup.',
      );
    }
  }
  return Math.round(performance.now() - started);
}

/** Compares counted rows with the manifest's, table by table; a table on one side only is a mismatch. */
export function compareCounts(expected: Record<string, number>, actual: Record<string, number>): Mismatch[] {
  const mismatches: Mismatch[] = [];
  for (const [table, rows] of Object.entries(expected)) {
    const got = actual[table];
    if (got !== rows) mismatches.push({ table, expected: rows, actual: got ?? null });
  }
  for (const [table, rows] of Object.entries(actual)) {
    if (!(table in expected)) mismatches.push({ table, expected: null, actual: rows });
  }
  return mismatches;
}

export function describeMismatches(mismatches: Mismatch[]): string {
  return mismatches
    .slice(0, 10)
    .map((m) =>
      m.expected === null
        ? `${m.table}: not in the backup's manifest (${m.actual} rows)`
        : m.actual === null
          ? `${m.table}: missing (manifest: ${m.expected} rows)`
          : `${m.table}: ${m.actual} rows, manifest says ${m.expected}`,
    )
    .join('; ')
    .concat(mismatches.length > 10 ? `; and ${mismatches.length - 10} more` : '');
}
