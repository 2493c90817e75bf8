/**
 * `mode: verify` — the weekly "check backup integrity": one backup (file or manifest) checked at the
 * asked level, the result recorded in its manifest so that retention and the migration gate know.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import type { Log } from '../log.js';
import { fetchFromHost, type FromHost } from './fetch-from-host.js';
import { openBackupFile } from './backup-file.js';
import { findClientTools } from './client-tools.js';
import type { DatabaseUrl } from './database-url.js';
import { openEndpoint, type Endpoint, type SshRoute } from './endpoint.js';
import { manifestPath, recordVerification, type VerifyLevel } from './manifest.js';
import { asVerification, verifyBackup, type VerifyOutcome } from './verify.js';

export interface VerifyOptions {
  backup: string;
  /** The backup is a path on this host: fetched first, then verified here. */
  fromHost?: FromHost;
  level: VerifyLevel;
  scratch?: DatabaseUrl;
  /** The scratch server may itself sit behind the droplet. */
  via?: SshRoute;
  binDir?: string;
  dryRun: boolean;
}

export interface VerifyReport {
  path: string;
  outcome?: VerifyOutcome;
  plan: string[];
}

export async function verifyMode(
  options: VerifyOptions,
  deps: { log: Log; signal?: AbortSignal },
): Promise<VerifyReport> {
  const { log } = deps;
  const file = await openBackupFile(
    options.fromHost ? await fetchFromHost(options.backup, options.fromHost, log) : options.backup,
  );
  const needMajor = file.manifest?.tools.major ?? 0;
  const tools = findClientTools(
    needMajor,
    `the backup (written by pg_dump ${file.manifest?.tools.pg_dump ?? '?'})`,
    options.binDir,
  );
  if (options.dryRun) {
    const plan = [
      `would verify ${file.path} (${file.format}${file.manifest ? '' : ', no manifest'}) at level ${options.level} with pg_restore ${tools.version}`,
    ];
    for (const line of plan) log.info(`[dry-run] ${line}`);
    return { path: file.path, plan };
  }
  let scratch: Endpoint | undefined;
  try {
    if (options.level === 'restore' && options.scratch)
      scratch = await openEndpoint(options.scratch, options.via, log);
    const outcome = await verifyBackup(file.path, file.format, file.manifest, options.level, {
      tools,
      log,
      ...(scratch ? { scratch } : {}),
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    for (const note of outcome.notes) log.warn(note);
    if (file.manifest) {
      const writable = await access(manifestPath(file.path), constants.W_OK).then(
        () => true,
        () => false,
      );
      if (writable) await recordVerification(file.path, file.manifest, asVerification(outcome));
    }
    return { path: file.path, outcome, plan: [] };
  } finally {
    await scratch?.close();
  }
}
