/**
 * pg_restore over a custom or directory archive — or over a `.dump.zst` (a custom archive written
 * uncompressed by a pg_dump older than 16 and compressed with zstd by us), decompressed into its
 * standard input as it reads. pg_restore reads an archive from a pipe in order, which is what
 * --list, a read-through and a single-transaction restore do; parallel jobs need the plain file.
 */
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { OperationError, errorText } from '../errors.js';
import { startTool, type ClientTools, type ToolRun } from './client-tools.js';
import type { BackupFormat } from './manifest.js';
import { BoundedBufferChurn } from './buffer-churn.js';
import { zstdDecompress } from './zstd.js';

interface RestoreRunOptions {
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  hint: string;
  stdout?: 'ignore' | 'pipe';
}

/** pg_restore stops reading once it has what it needs (--list reads the table of contents only). */
const STOPPED_READING = /EPIPE|ERR_STREAM_PREMATURE_CLOSE|ERR_STREAM_DESTROYED/;

export function startRestoreTool(
  tools: ClientTools,
  args: string[],
  path: string,
  format: BackupFormat | 'plain',
  options: RestoreRunOptions,
): ToolRun {
  if (format !== 'custom-zstd') return startTool(tools, 'pg_restore', [...args, path], options);
  const run = startTool(tools, 'pg_restore', args, { ...options, stdin: 'pipe' });
  const feeding = pipeline(
    createReadStream(path),
    zstdDecompress(),
    new BoundedBufferChurn(),
    run.child.stdin as NodeJS.WritableStream,
  ).catch((error: unknown) => error);
  const done = (async () => {
    const exited = await run.done.then(
      () => undefined,
      (error: unknown) => error,
    );
    const fed = await feeding;
    // A file that does not decompress is the cause of whatever pg_restore said about its input.
    if (fed instanceof Error && !STOPPED_READING.test(`${(fed as { code?: string }).code} ${fed.message}`))
      throw new OperationError(
        `Reading ${path} failed: ${errorText(fed)} (zstd).`,
        'the file is damaged or incomplete: verify it, and restore from another backup.',
      );
    if (exited) throw exited;
  })();
  done.catch(() => undefined);
  return { child: run.child, done };
}

/** The same to its end, returning stdout (a table of contents). */
export async function runRestoreTool(
  tools: ClientTools,
  args: string[],
  path: string,
  format: BackupFormat | 'plain',
  options: Omit<RestoreRunOptions, 'stdout'>,
): Promise<string> {
  const run = startRestoreTool(tools, args, path, format, { ...options, stdout: 'pipe' });
  const chunks: Buffer[] = [];
  run.child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  await run.done;
  return Buffer.concat(chunks).toString();
}
