/**
 * A backup on disk: one file (custom, plain-gzip) or one directory (directory format). Checksums,
 * fsync and the `.partial` → final rename that makes a file with the final name always complete.
 */
import { createHash } from 'node:crypto';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface FileDigest {
  name: string;
  bytes: number;
  sha256: string;
}

/** One buffer, read into again and again: hashing a 1 GB file must not grow the process by 1 GB of chunks. */
export async function hashFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  const handle = await open(path, 'r');
  let bytes = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return { name: basename(path), bytes, sha256: hash.digest('hex') };
}

/**
 * A whole backup's digest. For a directory: each file's, and one sha256 over the sorted
 * `sha256  name` lines (the form sha256sum prints), so one value still names the whole backup.
 */
export async function digestBackup(
  path: string,
): Promise<{ bytes: number; sha256: string; files?: FileDigest[] }> {
  const info = await stat(path);
  if (!info.isDirectory()) {
    const { bytes, sha256 } = await hashFile(path);
    return { bytes, sha256 };
  }
  const names = (await readdir(path)).sort();
  const files = await Promise.all(names.map((name) => hashFile(join(path, name))));
  return { ...combine(files), files };
}

export function combine(files: FileDigest[]): { bytes: number; sha256: string } {
  const list = files.map((f) => `${f.sha256}  ${f.name}\n`).join('');
  return {
    bytes: files.reduce((sum, f) => sum + f.bytes, 0),
    sha256: createHash('sha256').update(list).digest('hex'),
  };
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Flushes a file, or every file of a directory and the directory itself, to the disk. */
export async function fsyncBackup(path: string): Promise<void> {
  const info = await stat(path);
  if (info.isDirectory()) {
    for (const name of await readdir(path)) await fsyncPath(join(path, name));
  }
  await fsyncPath(path);
}

/** `<x>.partial` → `<x>`, then the directory entry itself made durable. */
export async function publish(partial: string, final: string): Promise<void> {
  await fsyncBackup(partial);
  await rename(partial, final);
  await fsyncPath(dirname(final));
}

/** Writes a small file (a manifest) the same way: temp name, fsync, rename. */
export async function writeDurably(path: string, text: string): Promise<void> {
  const partial = `${path}.partial`;
  const handle = await open(partial, 'w', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(partial, path);
  await fsyncPath(dirname(path));
}

export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true }).catch(() => undefined);
}
