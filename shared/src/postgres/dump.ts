/**
 * Writing one backup: pg_dump in the snapshot exported by our own session, the row counts taken in
 * that same snapshot while it runs, everything streamed (pg_dump writes the file itself, or its
 * plain output goes through gzip into the file with backpressure: no stage holds the dump), every
 * stage's exit status checked, the file written as `.partial`, fsynced and only then renamed.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createGzip } from 'node:zlib';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { OperationError, errorText } from '../errors.js';
import type { Log } from '../log.js';
import { digestBackup, publish, removeQuietly } from './archive-files.js';
import { startTool, type ClientTools } from './client-tools.js';
import { conninfo, describeDatabase, toolEnvironment } from './database-url.js';
import type { Endpoint } from './endpoint.js';
import { isExtensionOwnerOnlyLine, SqlLineFilter } from './plain-dump.js';
import { EXTENSIONS, stamp, writeManifest, type BackupFormat, type Manifest } from './manifest.js';
import type { DatabaseSession, ServerVersion } from './session.js';
import { zstdCompress } from './zstd.js';
import { BoundedBufferChurn } from './buffer-churn.js';

/** Passes bytes through, counting them and hashing them with sha256. */
class HashingStream extends Transform {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
  digest(): { bytes: number; sha256: string } {
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

export interface DumpSpec {
  format: BackupFormat;
  /** gzip level 0-9 (PostgreSQL 15's pg_dump compresses with gzip only). */
  compression: number;
  /**
   * compression: zstd[:level] (custom format): pg_dump's own `--compress=zstd:N` from pg_dump 16;
   * with an older pg_dump, its uncompressed archive through Node's zstd into a `.dump.zst`.
   */
  zstd?: number;
  /** Parallel pg_dump workers (directory format). */
  jobs: number;
  dir: string;
  /** File name prefix: `<name>-<time><ext>`. */
  name: string;
}

export interface Connected {
  endpoint: Endpoint;
  session: DatabaseSession;
  server: ServerVersion;
  tools: ClientTools;
}

export interface WrittenBackup {
  path: string;
  manifestPath: string;
  manifest: Manifest;
}

export function backupFileName(spec: Pick<DumpSpec, 'name' | 'format'>, at: Date): string {
  return `${spec.name}-${stamp(at)}${EXTENSIONS[spec.format]}`;
}

function dumpArgs(spec: DumpSpec, target: string, snapshot: string): string[] {
  const common = ['--no-password', `--snapshot=${snapshot}`, `--dbname=${target}`];
  switch (spec.format) {
    case 'custom':
      return [
        ...common,
        '--format=custom',
        `--compress=${spec.zstd !== undefined ? `zstd:${spec.zstd}` : spec.compression}`,
      ];
    case 'custom-zstd':
      return [...common, '--format=custom', '--compress=0'];
    case 'directory':
      return [...common, '--format=directory', `--jobs=${spec.jobs}`, `--compress=${spec.compression}`];
    case 'plain-gzip':
      // DROP … IF EXISTS first: the runbook's own `gunzip < f | psql` then works over a live database too.
      return [...common, '--format=plain', '--clean', '--if-exists'];
  }
}

const NO_SPACE = /No space left on device|ENOSPC|could not write to output file/i;

async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

/** Writes one backup of the connected database into spec.dir and returns it with its manifest. */
/** The archive the spec makes with these tools: zstd by pg_dump itself from 16, by us before. */
export function effectiveSpec(spec: DumpSpec, toolsMajor: number): DumpSpec {
  return spec.zstd !== undefined && toolsMajor < 16 ? { ...spec, format: 'custom-zstd' } : spec;
}

export async function writeBackup(
  connected: Connected,
  asked: DumpSpec,
  log: Log,
  signal?: AbortSignal,
): Promise<WrittenBackup> {
  const { endpoint, session, server, tools } = connected;
  const spec = effectiveSpec(asked, tools.major);
  const db = endpoint.db;
  await mkdir(spec.dir, { recursive: true });
  const startedAt = new Date();
  let path = join(spec.dir, backupFileName(spec, startedAt));
  // Two runs in the same second (a retry) must not collide on one name.
  for (let n = 2; existsSync(path) || existsSync(`${path}.partial`); n++) {
    path = join(spec.dir, `${spec.name}-${stamp(startedAt)}-${n}${EXTENSIONS[spec.format]}`);
  }
  const partial = `${path}.partial`;
  const started = performance.now();
  log.info(
    `backing up ${describeDatabase(db)} (PostgreSQL ${server.version}, ${endpoint.route}) with pg_dump ${tools.version}, format ${spec.format}${spec.format === 'directory' ? ` ×${spec.jobs} jobs` : ''}, compression ${spec.zstd !== undefined ? `zstd level ${spec.zstd}${spec.format === 'custom-zstd' ? ` (Node's, pg_dump ${tools.major} has none)` : ''}` : spec.compression}, to ${path}`,
  );
  try {
    const snapshot = await session.exportSnapshot();
    const tables = await session.dataTables();
    const target = spec.format === 'plain-gzip' || spec.format === 'custom-zstd' ? '-' : partial;
    const dump = startTool(
      tools,
      'pg_dump',
      [
        ...dumpArgs(spec, conninfo(db, endpoint.reach), snapshot),
        ...(target === '-' ? [] : [`--file=${partial}`]),
      ],
      {
        env: toolEnvironment(db),
        stdout: target === '-' ? 'pipe' : 'ignore',
        ...(signal ? { signal } : {}),
        hint: "read pg_dump's message above; check the connection, the role's read rights on every table, and free disk space here.",
      },
    );
    const out = dump.child.stdout as NodeJS.ReadableStream;
    // What we write ourselves is hashed on its way to the file: no second pass over it afterwards.
    const hashing = new HashingStream();
    const file = () => createWriteStream(partial, { mode: 0o600 });
    const writing = (
      spec.format === 'custom-zstd'
        ? pipeline(out, zstdCompress(spec.zstd ?? 1), new BoundedBufferChurn(), hashing, file())
        : spec.format === 'plain-gzip'
          ? pipeline(
              out,
              // So that `gunzip < f | psql` runs as the application's role, which uses extensions it does not own.
              new SqlLineFilter(isExtensionOwnerOnlyLine, true),
              createGzip({ level: spec.compression, chunkSize: 1 << 16 }),
              hashing,
              file(),
            )
          : Promise.resolve()
    ).catch((error: unknown) => {
      dump.child.kill('SIGTERM');
      throw error;
    });
    // The counts run in the exporting transaction while pg_dump reads the same snapshot.
    const dumpStarted = performance.now();
    let dumpMs = 0;
    let countMs = 0;
    void dump.done.then(
      () => (dumpMs = performance.now() - dumpStarted),
      () => undefined,
    );
    const counting = session.countRows(tables, signal, true).then((rows) => {
      countMs = performance.now() - dumpStarted;
      return rows;
    });
    counting.catch(() => dump.child.kill('SIGTERM')); // no manifest, no backup: stop at once
    const [dumped, written, counted] = await Promise.allSettled([dump.done, writing, counting]);
    // A table the role cannot read fails the count first and pg_dump after it: the count says why.
    for (const outcome of [written, counted, dumped]) if (outcome.status === 'rejected') throw outcome.reason;
    const rows = (counted as PromiseFulfilledResult<Record<string, number>>).value;
    await session.commit();
    if (signal?.aborted) throw signal.reason;
    const hashStarted = performance.now();
    const digest: Awaited<ReturnType<typeof digestBackup>> =
      target === '-' ? hashing.digest() : await digestBackup(partial);
    const hashMs = performance.now() - hashStarted;
    await publish(partial, path);
    const syncMs = performance.now() - hashStarted - hashMs;
    const finishedAt = new Date();
    const manifest: Manifest = {
      kind: 'runbook-actions backup',
      version: 1,
      file: path.slice(spec.dir.length + 1),
      format: spec.format,
      compression: spec.zstd ?? spec.compression,
      ...(spec.zstd !== undefined ? { codec: 'zstd' as const } : {}),
      database: db.database,
      server,
      tools: { pg_dump: tools.version, major: tools.major },
      bytes: digest.bytes,
      sha256: digest.sha256,
      ...(digest.files ? { files: digest.files } : {}),
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: Math.round(performance.now() - started),
      snapshot,
      tables: rows,
      verifications: [],
    };
    const manifestPath = await writeManifest(path, manifest);
    log.info(
      `backup written: ${path} (${mb(digest.bytes)}, sha256 ${digest.sha256.slice(0, 16)}…, ${tables.length} tables, ${manifest.durationMs} ms: pg_dump ${Math.round(dumpMs)}, counts ${Math.round(countMs)} alongside, sha256 ${Math.round(hashMs)}, fsync and rename ${Math.round(syncMs)})`,
    );
    return { path, manifestPath, manifest };
  } catch (error) {
    await removeQuietly(partial);
    await session.client.query('ROLLBACK').catch(() => undefined);
    // Cancelled: pg_dump was stopped by us, so say that rather than "pg_dump killed by SIGTERM".
    if (signal?.aborted) throw signal.reason;
    if (NO_SPACE.test(errorText(error)) || (error as { code?: string }).code === 'ENOSPC') {
      const free = await freeBytes(spec.dir);
      throw new OperationError(
        `The backup did not fit: no space left on the device holding ${spec.dir}${free !== undefined ? ` (${mb(free)} free now that the partial file is removed)` : ''}. No backup file was written.`,
        'free space there or set path to a larger disk; the database itself was not changed.',
        { cause: error },
      );
    }
    throw error;
  }
}

/** Size of the database on the server: an upper bound for what a backup needs, for the plan. */
export async function databaseSize(session: DatabaseSession): Promise<number> {
  const result = await session.client.query<{ size: string }>(
    'SELECT pg_database_size(current_database()) AS size',
  );
  return Number((result.rows[0] as { size: string }).size);
}
