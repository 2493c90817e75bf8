/**
 * The integrity ladder, cheapest first; each level includes the ones before it:
 * - checksum: the sha256 of every byte against the manifest;
 * - list: the archive's table of contents reads, and holds data for every table the manifest counted
 *   (a plain `.sql.gz` has no table of contents: it is decompressed whole and its trailer checked);
 * - read: every data block read and decompressed (`pg_restore -f /dev/null`);
 * - restore: loaded into a fresh database on the scratch server, errors stopping it, every table's
 *   rows counted against the manifest, and the scratch database dropped again.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { OperationError, errorText } from '../errors.js';
import type { Log } from '../log.js';
import { digestBackup } from './archive-files.js';
import { ToolFailed, type ClientTools } from './client-tools.js';
import { toolEnvironment } from './database-url.js';
import type { Endpoint } from './endpoint.js';
import { compareCounts, describeMismatches, loadBackup } from './load.js';
import type { BackupFormat, Manifest, Mismatch, Verification, VerifyLevel } from './manifest.js';
import { openPlainDump, TailWatch } from './plain-dump.js';
import { withScratchDatabase } from './scratch.js';
import { runRestoreTool } from './archive-input.js';
import { DatabaseSession } from './session.js';

export interface VerifyOutcome {
  level: VerifyLevel;
  ok: boolean;
  /** What failed, in words; empty when ok. */
  problems: string[];
  /** Notes on checks that could not apply (no manifest). */
  notes: string[];
  restoreMs?: number;
  mismatches: Mismatch[];
}

export interface VerifyContext {
  tools: ClientTools;
  log: Log;
  /** The scratch server, for `restore`. */
  scratch?: Endpoint;
  signal?: AbortSignal;
  /** The sha256 was just computed from the file on disk (a fresh backup): reading it again proves nothing new. */
  digestJustTaken?: boolean;
}

const ORDER: VerifyLevel[] = ['checksum', 'list', 'read', 'restore'];

function reaches(level: VerifyLevel, step: VerifyLevel): boolean {
  return ORDER.indexOf(level) >= ORDER.indexOf(step);
}

export async function verifyBackup(
  path: string,
  format: BackupFormat | 'plain',
  manifest: Manifest | undefined,
  level: VerifyLevel,
  ctx: VerifyContext,
): Promise<VerifyOutcome> {
  const outcome: VerifyOutcome = { level, ok: true, problems: [], notes: [], mismatches: [] };
  const fail = (problem: string) => {
    outcome.ok = false;
    outcome.problems.push(problem);
  };
  const { log } = ctx;
  // checksum
  if (manifest && ctx.digestJustTaken) {
    log.info(`checksum: sha256 taken from the file as written (${manifest.bytes} bytes)`);
  } else if (manifest) {
    const digest = await digestBackup(path);
    if (digest.sha256 !== manifest.sha256) {
      const files = (manifest.files ?? [])
        .filter((f) => !digest.files?.some((d) => d.name === f.name && d.sha256 === f.sha256))
        .map((f) => f.name);
      fail(
        `checksum: sha256 ${digest.sha256.slice(0, 16)}… ≠ manifest ${manifest.sha256.slice(0, 16)}…${files.length ? ` (changed: ${files.join(', ')})` : ''}; the file was changed or damaged after it was written`,
      );
      return outcome;
    }
    log.info(`checksum: sha256 matches the manifest (${digest.bytes} bytes)`);
  } else {
    outcome.notes.push('no manifest beside the backup: checksum and row counts cannot be checked');
  }
  if (!reaches(level, 'list')) return outcome;

  // list / read
  const env = toolEnvironment({ host: '', port: 0, database: '', user: '', params: {} });
  const hint =
    'the backup is damaged or incomplete: take a new one, and restore from another if you need one now.';
  if (format === 'plain-gzip' || format === 'plain') {
    const watch = new TailWatch();
    try {
      await pipeline(
        openPlainDump(path, format === 'plain-gzip'),
        watch,
        new Writable({ write: (_c, _e, done) => done() }),
      );
    } catch (error) {
      fail(`read: ${format === 'plain-gzip' ? 'gzip stream' : 'file'} does not read: ${errorText(error)}`);
      return outcome;
    }
    if (!watch.complete) {
      fail(
        'read: the dump ends without pg_dump\'s "-- PostgreSQL database dump complete" trailer: it was cut off',
      );
      return outcome;
    }
    log.info('list/read: decompressed whole, trailer present');
  } else {
    try {
      const toc = await runRestoreTool(ctx.tools, ['--list'], path, format, {
        env,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        hint,
      });
      const missing = Object.keys(manifest?.tables ?? {}).filter((table) => {
        const dot = table.indexOf('.');
        return !toc.includes(` TABLE DATA ${table.slice(0, dot)} ${table.slice(dot + 1)} `);
      });
      if (missing.length) {
        fail(
          `list: the table of contents holds no data for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`,
        );
        return outcome;
      }
      log.info(
        `list: table of contents reads (${toc.split('\n').filter((l) => l && !l.startsWith(';')).length} entries)`,
      );
    } catch (error) {
      fail(`list: ${errorText(error)}`);
      return outcome;
    }
    if (reaches(level, 'read')) {
      try {
        await runRestoreTool(ctx.tools, ['--file=/dev/null'], path, format, {
          env,
          ...(ctx.signal ? { signal: ctx.signal } : {}),
          hint,
        });
        log.info('read: every data block read and decompressed');
      } catch (error) {
        fail(`read: ${errorText(error)}`);
        return outcome;
      }
    }
  }
  if (!reaches(level, 'restore')) return outcome;

  if (!ctx.scratch) {
    throw new OperationError(
      'verify level restore needs a scratch server.',
      'set scratch-database-url — in a workflow, a postgres:<major> service container.',
    );
  }
  let restored: { ms: number; mismatches: Mismatch[] };
  try {
    restored = await restoreIntoScratch(path, format, manifest, ctx.scratch, ctx);
  } catch (error) {
    if (!(error instanceof ToolFailed)) throw error;
    fail(`restore: ${error.message}`);
    return outcome;
  }
  outcome.restoreMs = restored.ms;
  outcome.mismatches = restored.mismatches;
  if (restored.mismatches.length)
    fail(`restore: row counts differ from the manifest: ${describeMismatches(restored.mismatches)}`);
  else
    log.info(
      `restore: loaded into a scratch database in ${restored.ms} ms; every table's rows match the manifest`,
    );
  return outcome;
}

async function restoreIntoScratch(
  path: string,
  format: BackupFormat | 'plain',
  manifest: Manifest | undefined,
  scratch: Endpoint,
  ctx: VerifyContext,
): Promise<{ ms: number; mismatches: Mismatch[] }> {
  return withScratchDatabase(scratch, 'runbook_verify', async (name) => {
    const ms = await loadBackup(
      ctx.tools,
      path,
      format,
      { db: scratch.db, reach: scratch.reach, database: name },
      'scratch',
      ctx.signal,
    );
    const restored = await DatabaseSession.open(scratch.db, scratch.reach, name);
    try {
      const counts = await restored.countRows(await restored.dataTables());
      return { ms, mismatches: manifest ? compareCounts(manifest.tables, counts) : [] };
    } finally {
      await restored.close();
    }
  });
}

/** The outcome as the manifest records it. */
export function asVerification(outcome: VerifyOutcome): Verification {
  return {
    level: outcome.level,
    ok: outcome.ok,
    at: new Date().toISOString(),
    ...(outcome.restoreMs !== undefined ? { restoreMs: outcome.restoreMs } : {}),
    ...(outcome.mismatches.length ? { mismatches: outcome.mismatches } : {}),
  };
}
