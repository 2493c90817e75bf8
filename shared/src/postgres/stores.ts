/**
 * The places backups are kept — a directory here, a directory on the droplet — seen the same way by
 * retention: list our backups with their verification state, remove one (file and manifest).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Log } from '../log.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import { removeQuietly } from './archive-files.js';
import { lastVerified, manifestPath, parseManifest, type Manifest } from './manifest.js';
import {
  backupTime,
  describePlan,
  planRetention,
  retentionEnabled,
  type BackupEntry,
  type RetentionPolicy,
} from './retention.js';

export interface BackupStore {
  where: string;
  /** Manifest file name → its text, for every manifest in the directory. */
  manifests(): Promise<Map<string, string>>;
  remove(file: string): Promise<void>;
}

export function localStore(dir: string): BackupStore {
  return {
    where: dir,
    async manifests() {
      const found = new Map<string, string>();
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const name of names.filter((n) => n.endsWith('.manifest.json'))) {
        found.set(name, await readFile(join(dir, name), 'utf8').catch(() => ''));
      }
      return found;
    },
    async remove(file) {
      await removeQuietly(join(dir, file));
      await removeQuietly(manifestPath(join(dir, file)));
    },
  };
}

export function remoteStore(session: SshSession, dir: string): BackupStore {
  return {
    where: `${session.name}:${dir}`,
    async manifests() {
      const { stdout } = await session.run(
        'list backups',
        sh`cd ${dir} 2>/dev/null || exit 0
for f in *.manifest.json; do [ -f "$f" ] && [ ! -L "$f" ] && { printf '%s\\0' "$f"; cat -- "$f"; printf '\\0'; }; done; true`,
      );
      const parts = stdout.split('\0');
      const found = new Map<string, string>();
      for (let i = 0; i + 1 < parts.length; i += 2) found.set(parts[i] as string, parts[i + 1] as string);
      return found;
    },
    async remove(file) {
      const path = `${dir}/${file}`;
      await session.run('remove old backup', sh`rm -rf -- ${path} ${manifestPath(path)}`);
    },
  };
}

/** Our backups in a store: our name pattern and a readable manifest; anything else is left alone. */
export async function listBackups(store: BackupStore, name: string): Promise<BackupEntry[]> {
  const entries: BackupEntry[] = [];
  for (const [manifestFile, text] of await store.manifests()) {
    const file = manifestFile.slice(0, -'.manifest.json'.length);
    const time = backupTime(name, file);
    if (!time) continue;
    let manifest: Manifest;
    try {
      manifest = parseManifest(text, manifestFile);
    } catch {
      continue;
    }
    entries.push({ file, time, verified: lastVerified(manifest) !== undefined });
  }
  return entries;
}

export interface RetentionResult {
  where: string;
  kept: string[];
  removed: string[];
}

/** Prints the plan, then (unless dry-run) removes what it names. */
export async function applyRetention(
  store: BackupStore,
  name: string,
  policy: RetentionPolicy,
  protect: string[],
  log: Log,
  dryRun: boolean,
): Promise<RetentionResult> {
  if (!retentionEnabled(policy)) return { where: store.where, kept: [], removed: [] };
  const plan = planRetention(await listBackups(store, name), policy, protect);
  for (const line of describePlan(store.where, plan)) log.info(dryRun ? `[dry-run] ${line}` : line);
  if (!dryRun) for (const entry of plan.remove) await store.remove(entry.file);
  return {
    where: store.where,
    kept: plan.keep.map((k) => k.file),
    removed: dryRun ? [] : plan.remove.map((r) => r.file),
  };
}
