/**
 * The manifest written beside every backup (`<file>.manifest.json`): what was dumped, from which
 * server, with which tools, its size and sha256, and the exact row count of every table taken in
 * the dump's own snapshot — so a restore can be checked to the row. Verifications append their
 * result, which is what retention and the migration gate read.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { OperationError } from '../errors.js';
import type { FileDigest } from './archive-files.js';
import { writeDurably } from './archive-files.js';

/** `custom-zstd`: a custom archive written uncompressed by pg_dump older than 16, zstd-compressed by us. */
export type BackupFormat = 'custom' | 'directory' | 'plain-gzip' | 'custom-zstd';
export const BACKUP_FORMATS: readonly BackupFormat[] = ['custom', 'directory', 'plain-gzip'];

export type VerifyLevel = 'checksum' | 'list' | 'read' | 'restore';
export const VERIFY_LEVELS: readonly VerifyLevel[] = ['checksum', 'list', 'read', 'restore'];

export interface Verification {
  level: VerifyLevel;
  ok: boolean;
  at: string;
  restoreMs?: number;
  mismatches?: Mismatch[];
}

export interface Mismatch {
  table: string;
  expected: number | null;
  actual: number | null;
}

export interface Manifest {
  kind: 'runbook-actions backup';
  version: 1;
  file: string;
  format: BackupFormat;
  /** The level (gzip 0-9, or zstd's with `codec`). */
  compression: number;
  /** `zstd`: compressed with zstd (pg_dump's own in a custom archive from pg_dump 16+, else ours: custom-zstd). Absent: gzip. */
  codec?: 'zstd';
  database: string;
  server: { version: string; major: number };
  tools: { pg_dump: string; major: number };
  bytes: number;
  sha256: string;
  files?: FileDigest[];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  snapshot: string;
  tables: Record<string, number>;
  verifications: Verification[];
}

export const EXTENSIONS: Record<BackupFormat, string> = {
  custom: '.dump',
  directory: '.dir',
  'plain-gzip': '.sql.gz',
  'custom-zstd': '.dump.zst',
};

export function manifestPath(backupPath: string): string {
  return `${backupPath}.manifest.json`;
}

export { stamp } from '../stamp.js';

export async function writeManifest(backupPath: string, manifest: Manifest): Promise<string> {
  const path = manifestPath(backupPath);
  await writeDurably(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}

export function parseManifest(text: string, where: string): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OperationError(
      `${where} is not valid JSON.`,
      'give the backup file or the .manifest.json written beside it.',
    );
  }
  const m = value as Partial<Manifest>;
  if (m.kind !== 'runbook-actions backup' || typeof m.sha256 !== 'string' || typeof m.tables !== 'object') {
    throw new OperationError(
      `${where} is not a runbook-actions backup manifest.`,
      'give the backup file or the .manifest.json written beside it by action-db-backup.',
    );
  }
  return { verifications: [], ...m } as Manifest;
}

export async function readManifest(path: string): Promise<Manifest> {
  return parseManifest(await readFile(path, 'utf8'), path);
}

/** The last verification that passed, if any. */
export function lastVerified(manifest: Manifest): Verification | undefined {
  return [...manifest.verifications].reverse().find((v) => v.ok);
}

export async function recordVerification(
  backupPath: string,
  manifest: Manifest,
  result: Verification,
): Promise<void> {
  manifest.verifications.push(result);
  await writeManifest(backupPath, manifest);
}

/** What a backup path holds, judged from its bytes (a foreign `.sql.gz` has no manifest to say). */
export function detectFormat(path: string): BackupFormat | 'plain' {
  const info = statSync(path);
  if (info.isDirectory()) {
    if (existsSync(`${path}/toc.dat`)) return 'directory';
    throw new OperationError(
      `${path} is a directory without toc.dat: not a pg_dump directory-format backup.`,
      'give a backup file or its manifest.',
    );
  }
  const head = Buffer.alloc(5);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 5, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0x1f && head[1] === 0x8b) return 'plain-gzip';
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'custom-zstd';
  if (head.toString('latin1') === 'PGDMP') return 'custom';
  return 'plain';
}
