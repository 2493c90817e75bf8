/**
 * The inputs of action-db-backup (and the CLI's backup/verify/restore), read and checked in one
 * place before anything connects. The database URLs are secrets: masked whole and by password.
 */
import { existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Inputs } from '../config/inputs.js';
import type { FromHost } from './fetch-from-host.js';
import { ConfigurationError } from '../errors.js';
import { readSshOptions } from '../ssh/inputs.js';
import { parseSshTarget } from '../ssh/target.js';
import type { BackupOptions } from './backup.js';
import type { DatabaseAccess } from './connect.js';
import { parseDatabaseUrl, type DatabaseUrl } from './database-url.js';
import type { DumpSpec } from './dump.js';
import type { SshRoute } from './endpoint.js';
import { BACKUP_FORMATS, VERIFY_LEVELS, type VerifyLevel } from './manifest.js';
import type { RestoreOptions } from './restore.js';
import type { VerifyOptions } from './verify-mode.js';

export const MODES = ['backup', 'verify', 'restore'] as const;
export type Mode = (typeof MODES)[number];

/** The default compression level, chosen by bench/backup.ts (see its output in the README). */
export const DEFAULT_COMPRESSION = 1;

export function readDatabaseUrl(inputs: Inputs, name: string, required: boolean): DatabaseUrl | undefined {
  const raw = required ? inputs.secret(name, { required: true }) : inputs.secret(name);
  if (raw === undefined) return undefined;
  return parseDatabaseUrl(name, raw, (secret) => inputs.mask(secret));
}

/** `ssh-host` and the SSH inputs: the way to a database that listens only on the droplet. */
export function readSshRoute(inputs: Inputs, name = 'ssh-host'): SshRoute | undefined {
  const host = inputs.string(name);
  if (!host) return undefined;
  return { host: parseSshTarget(name, host), ssh: readSshOptions(inputs) };
}

export function readAccess(
  inputs: Inputs,
  urlInput = 'database-url',
  routeInput = 'ssh-host',
): DatabaseAccess {
  const db = readDatabaseUrl(inputs, urlInput, true) as DatabaseUrl;
  const via = readSshRoute(inputs, routeInput);
  const binDir = inputs.string('pg-bin-dir');
  return { db, ...(via ? { via } : {}), ...(binDir ? { binDir: resolve(binDir) } : {}) };
}

export function readMode(inputs: Inputs): Mode {
  return inputs.choice('mode', MODES, 'backup');
}

function backupDir(inputs: Inputs, env: NodeJS.ProcessEnv): string {
  const given = inputs.string('path');
  const dir = resolve(given ?? join(env.RUNNER_TEMP ?? tmpdir(), 'db-backups'));
  if (given !== undefined && existsSync(dir) && !statSync(dir).isDirectory())
    throw new ConfigurationError(
      'path',
      `${JSON.stringify(given)} is a file, not a directory: backups are written into a directory of their own (it is made when missing).`,
    );
  return dir;
}

export function readDumpSpec(
  inputs: Inputs,
  db: DatabaseUrl,
  env: NodeJS.ProcessEnv = process.env,
): DumpSpec {
  const format = inputs.choice('format', BACKUP_FORMATS, 'custom');
  const jobs = inputs.integer('jobs', 2, { min: 1, max: 64 });
  const name = inputs.string('name') ?? db.database;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    throw new ConfigurationError(
      'name',
      `${JSON.stringify(name)} is not a file name prefix; use letters, digits, '.', '_' and '-'.`,
    );
  const zstd = /^zstd(?::(\d+))?$/.exec(inputs.raw('compression').trim());
  if (zstd) {
    const level = zstd[1] === undefined ? 1 : Number(zstd[1]);
    if (level < 1 || level > 19)
      throw new ConfigurationError(
        'compression',
        `zstd:${zstd[1]} is out of range; zstd levels are 1-19 (1 is the fast one).`,
      );
    if (format !== 'custom')
      throw new ConfigurationError(
        'compression',
        `zstd works with format: custom (got ${format}); pg_restore reads it, or our .dump.zst of an older pg_dump.`,
      );
  }
  return {
    format,
    ...(zstd ? { zstd: zstd[1] === undefined ? 1 : Number(zstd[1]) } : {}),
    compression: zstd ? 0 : inputs.integer('compression', DEFAULT_COMPRESSION, { min: 0, max: 9 }),
    jobs,
    dir: backupDir(inputs, env),
    name,
  };
}

function readScratch(
  inputs: Inputs,
  level: VerifyLevel | 'none',
  levelInput: string,
): DatabaseUrl | undefined {
  const scratch = readDatabaseUrl(inputs, 'scratch-database-url', false);
  if (level === 'restore' && !scratch)
    throw new ConfigurationError(
      'scratch-database-url',
      `is required for ${levelInput}: restore (a throwaway server to restore into — in a workflow, a postgres:<major> service container).`,
    );
  return scratch;
}

export function readBackupOptions(inputs: Inputs, env: NodeJS.ProcessEnv = process.env): BackupOptions {
  const access = readAccess(inputs);
  const verify = inputs.choice('verify', [...VERIFY_LEVELS, 'none'] as const, 'list');
  const scratch = readScratch(inputs, verify, 'verify');
  const remoteDir = inputs.string('remote-dir');
  if (remoteDir !== undefined) {
    if (!access.via)
      throw new ConfigurationError(
        'remote-dir',
        'needs ssh-host (and the SSH inputs) to copy the backup to the droplet.',
      );
    if (!remoteDir.startsWith('/'))
      throw new ConfigurationError(
        'remote-dir',
        `${JSON.stringify(remoteDir)} must be an absolute path, e.g. /var/backups/bunty.`,
      );
  }
  return {
    access,
    spec: readDumpSpec(inputs, access.db, env),
    verify,
    ...(scratch ? { scratch } : {}),
    ...(remoteDir ? { remoteDir: remoteDir.replace(/\/+$/, '') } : {}),
    retention: {
      keepLast: inputs.integer('keep-last', 3, { min: 0, max: 1000 }),
      keepDaily: inputs.integer('keep-daily', 7, { min: 0, max: 3650 }),
      keepWeekly: inputs.integer('keep-weekly', 4, { min: 0, max: 520 }),
    },
    dryRun: inputs.boolean('dry-run', false),
  };
}

function readBackupInput(inputs: Inputs, mode: Mode): string {
  const given = inputs.string('backup');
  if (!given)
    throw new ConfigurationError(
      'backup',
      `is required for mode: ${mode} (a backup file or its .manifest.json).`,
    );
  // A path on the droplet is the droplet's: absolute, and never resolved against this machine.
  if (inputs.boolean('from-host', false)) {
    if (!given.startsWith('/'))
      throw new ConfigurationError(
        'backup',
        `must be an absolute path on ssh-host with from-host: true, got "${given}".`,
      );
    return given;
  }
  return resolve(given);
}

/** `from-host: true`: where the backup is fetched from (ssh-host) and into (path). */
function readFromHost(inputs: Inputs, env: NodeJS.ProcessEnv): FromHost | undefined {
  if (!inputs.boolean('from-host', false)) return undefined;
  const route = readSshRoute(inputs);
  if (!route) throw new ConfigurationError('from-host', 'needs ssh-host: the host the backup is kept on.');
  return { route, dir: backupDir(inputs, env) };
}

export function readVerifyOptions(inputs: Inputs, env: NodeJS.ProcessEnv = process.env): VerifyOptions {
  // Not used to verify, but masked all the same if a workflow passes it.
  readDatabaseUrl(inputs, 'database-url', false);
  const level = inputs.choice('level', VERIFY_LEVELS, 'read');
  const scratch = readScratch(inputs, level, 'level');
  const binDir = inputs.string('pg-bin-dir');
  const fromHost = readFromHost(inputs, env);
  // ssh-host names where the scratch server is reached through — or, with from-host, where the backup
  // is kept; the scratch server (a workflow's service container) is then reached directly.
  const via = fromHost ? undefined : readSshRoute(inputs);
  return {
    backup: readBackupInput(inputs, 'verify'),
    ...(fromHost ? { fromHost } : {}),
    level,
    ...(scratch ? { scratch } : {}),
    ...(via ? { via } : {}),
    ...(binDir ? { binDir: resolve(binDir) } : {}),
    dryRun: inputs.boolean('dry-run', false),
  };
}

export function readRestoreOptions(inputs: Inputs, env: NodeJS.ProcessEnv = process.env): RestoreOptions {
  const backup = readBackupInput(inputs, 'restore');
  const explicit = inputs.raw('target-database-url') !== '';
  // Read (and so masked) even when the restore goes elsewhere.
  if (explicit) readDatabaseUrl(inputs, 'database-url', false);
  const target = readAccess(inputs, explicit ? 'target-database-url' : 'database-url');
  const safety = inputs.boolean('safety-backup', true);
  const spec = readDumpSpec(inputs, target.db, env);
  const fromHost = readFromHost(inputs, env);
  return {
    backup,
    ...(fromHost ? { fromHost } : {}),
    target,
    confirm: inputs.raw('confirm'),
    allowOtherDatabase: inputs.boolean('allow-other-database', false),
    blockers: {
      waitMs: inputs.duration('lock-wait', 30_000, { min: 0, max: 3_600_000 }),
      terminate: inputs.boolean('terminate-blockers', false),
    },
    ...(safety ? { safety: { ...spec, format: 'custom', name: `${spec.name}-before-restore` } } : {}),
    dryRun: inputs.boolean('dry-run', false),
  };
}
