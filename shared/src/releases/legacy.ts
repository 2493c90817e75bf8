/**
 * The runbook's own layout: the code lives in <app-dir> itself, the one before in
 * <app-dir>-previous, and pm2 runs <app-dir>/<script>. Rollback keeps the runbook's semantics
 * (move the broken code aside, the previous code into place, restart) but does both renames in
 * one command, keeps the broken code as <app-dir>-broken-<time> and proves the result healthy.
 * The one-shot migration copies the running code into releases/<time>-legacy of a staged new
 * tree and swaps the two directories by rename: the running processes keep serving from memory
 * throughout, and the next pm2 start runs from <app-dir>/current.
 */
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import type { SshSession } from '../ssh/session.js';
import { allOf, sh } from '../ssh/shell.js';
import { discardPartial } from './disk.js';
import { appPaths, newReleaseId } from './layout.js';
import { discoverEntry, type AppEntry } from './entry.js';
import { entryStartOptions } from './pm2.js';
import { stamp } from '../stamp.js';

export interface LegacyState {
  app: boolean;
  previous: boolean;
}

export const legacyPrevious = (appDir: string) => `${appDir}-previous`;

export async function readLegacyState(session: SshSession, appDir: string): Promise<LegacyState> {
  const { stdout } = await session.run(
    'read legacy layout',
    sh`if [ -d ${appDir} ]; then echo app; fi; if [ -d ${legacyPrevious(appDir)} ]; then echo previous; fi`,
  );
  const lines = stdout.split('\n');
  return { app: lines.includes('app'), previous: lines.includes('previous') };
}

/**
 * `mv app app-broken-<time> && mv app-previous app` in one command; our lease is copied into the
 * incoming directory first so the lock stays where the next run looks for it. Returns the
 * broken directory's name.
 */
export async function swapLegacy(session: SshSession, appDir: string, now: Date): Promise<string> {
  const paths = appPaths(appDir);
  const previous = legacyPrevious(appDir);
  const broken = `${appDir}-broken-${stamp(now)}`;
  await session.run(
    'swap legacy directories',
    sh`mkdir -p -- ${`${previous}/.runbook`} && { cp -p -- ${paths.lock} ${`${previous}/.runbook/deploy.lock`} 2>/dev/null || true; } && mv -T -- ${appDir} ${broken} && mv -T -- ${previous} ${appDir}`,
  );
  return broken;
}

export async function restartLegacy(
  session: SshSession,
  appName: string,
  env: Record<string, string>,
): Promise<void> {
  await session.run(
    'pm2 restart',
    sh`env ${Object.entries(env).map(([n, v]) => `${n}=${v}`)} pm2 restart ${appName} --update-env`,
    { timeoutMs: 120_000 },
  );
}

export interface MigrationOptions {
  appDir: string;
  linkedFiles: string[];
  linkedDirs: string[];
}

/** Converts a legacy host into the releases layout; returns the id given to the running code. */
export async function migrateLegacy(
  session: SshSession,
  options: MigrationOptions,
  log: Log,
  now: Date,
): Promise<string> {
  const paths = appPaths(options.appDir);
  const slash = options.appDir.lastIndexOf('/');
  const parent = options.appDir.slice(0, slash) || '/';
  const name = options.appDir.slice(slash + 1);
  // A second older than now: ids sort by time, and the release deployed right after must sort later.
  const id = newReleaseId('legacy', new Date(now.getTime() - 1000));
  const stage = `${parent}/.${name}.migrating-${stamp(now)}`;
  const release = `${stage}/releases/${id}`;
  const kept = `${options.appDir}-legacy-${stamp(now)}`;
  const moveToShared = (path: string, isDir: boolean) =>
    sh`if [ -e ${`${release}/${path}`} ] && [ ! -L ${`${release}/${path}`} ]; then mkdir -p -- "$(dirname -- ${`${stage}/shared/${path}`})" && mv -T -- ${`${release}/${path}`} ${`${stage}/shared/${path}`}; else ${isDir ? sh`mkdir -p -- ${`${stage}/shared/${path}`}` : sh`mkdir -p -- "$(dirname -- ${`${stage}/shared/${path}`})" && touch -- ${`${stage}/shared/${path}`}`}; fi && rm -rf -- ${`${release}/${path}`} && mkdir -p -- "$(dirname -- ${`${release}/${path}`})" && ln -s -- ${`${paths.shared}/${path}`} ${`${release}/${path}`}`;
  log.info(
    `${session.name}: migrating ${options.appDir} from the legacy layout to releases/ (running code becomes ${id}; the old directory is kept as ${kept})`,
  );
  await session.run(
    'migrate legacy layout',
    allOf(
      sh`rm -rf -- ${stage} && mkdir -p -- ${release} ${`${stage}/.runbook`}`,
      sh`cp -a -- ${`${options.appDir}/.`} ${release} && rm -rf -- ${`${release}/.runbook`}`,
      // No REVISION is written when the legacy code had none: its sha is unknown, so health checks skip the release match.
      ...options.linkedDirs.map((path) => moveToShared(path, true)),
      ...options.linkedFiles.map((path) => moveToShared(path, false)),
      // Our lease (and the log, if any) go along, so the new tree is locked by us the moment it appears.
      sh`cp -p -- ${paths.lock} ${`${stage}/.runbook/deploy.lock`} && { cp -p -- ${paths.log} ${`${stage}/.runbook/releases.log`} 2>/dev/null || true; }`,
      sh`ln -s -- ${`releases/${id}`} ${`${stage}/current`}`,
      sh`mv -T -- ${options.appDir} ${kept} && mv -T -- ${stage} ${options.appDir}`,
    ),
  );
  return id;
}

export function noLegacyPrevious(host: string, appDir: string): OperationError {
  return new OperationError(
    `${host}: there is no ${legacyPrevious(appDir)} to roll back to. Nothing was changed.`,
    'deploy a fixed release instead; the legacy layout keeps only one previous version (migrate to releases/ with migrate-legacy: true to keep more).',
  );
}

export interface LegacyDeployOptions {
  appDir: string;
  sha: string;
  tarball: string;
  linkedFiles: string[];
  linkedDirs: string[];
  appName: string;
  /** app-script; undefined: found in the new code (entry.ts). */
  script?: string;
}

/** The new code unpacked beside the app as <app-dir>-next-<id>, with the app's linked files copied in. */
export async function prepareLegacy(
  session: SshSession,
  options: LegacyDeployOptions,
  id: string,
  install?: (dir: string) => Promise<void>,
): Promise<{ dir: string; entry: AppEntry }> {
  const next = `${options.appDir}-next-${id}`;
  const upload = `${next}.tar.gz`;
  // Next directories and uploads left by earlier runs are litter: we hold the lease.
  await session.run(
    'create next directory',
    sh`rm -rf -- ${`${options.appDir}-next-`}* && mkdir -p -- ${next}`,
  );
  const copies = [...options.linkedFiles, ...options.linkedDirs].map(
    (path) =>
      sh`if [ -e ${`${options.appDir}/${path}`} ]; then rm -rf -- ${`${next}/${path}`} && mkdir -p -- "$(dirname -- ${`${next}/${path}`})" && cp -a -- ${`${options.appDir}/${path}`} ${`${next}/${path}`}; fi`,
  );
  try {
    await session.upload('upload release', options.tarball, upload);
    await session.run(
      'unpack release',
      sh`tar -xzf ${upload} -C ${next} && rm -f -- ${upload} && printf '%s\\n' ${options.sha} > ${`${next}/REVISION`} && ${allOf(...copies)}`,
    );
    if (install) await install(next);
    return { dir: next, entry: await discoverEntry(session, next, options.appName, options.script) };
  } catch (error) {
    throw await discardPartial(session, options.appDir, [next, upload], error);
  }
}

/**
 * The runbook's deploy, in one command: drop the old -previous, move the app to -previous and
 * the new code into place. Our lease goes into the new directory first. pm2 then restarts it
 * (or starts it, on a first deploy).
 */
export async function switchLegacy(
  session: SshSession,
  appDir: string,
  next: string,
  appName: string,
  entry: AppEntry,
  env: Record<string, string>,
): Promise<'started' | 'restarted'> {
  const paths = appPaths(appDir);
  const previous = legacyPrevious(appDir);
  await session.run(
    'switch legacy directories',
    sh`mkdir -p -- ${`${next}/.runbook`} && { cp -p -- ${paths.lock} ${`${next}/.runbook/deploy.lock`} 2>/dev/null || true; } && rm -rf -- ${previous} && if [ -d ${appDir} ]; then mv -T -- ${appDir} ${previous}; fi && mv -T -- ${next} ${appDir}`,
  );
  const { stdout } = await session.run(
    'pm2 describe',
    sh`pm2 describe ${appName} >/dev/null 2>&1 && echo running || echo absent`,
  );
  if (stdout.trim() === 'running') {
    await restartLegacy(session, appName, env);
    return 'restarted';
  }
  await session.run(
    'pm2 start',
    sh`cd -- ${appDir} && env ${Object.entries({ ...entry.env, ...env }).map(([n, v]) => `${n}=${v}`)} pm2 start ${`${appDir}/${entry.script}`} --name ${appName} --cwd ${appDir} ${entryStartOptions(entry)}`,
    { timeoutMs: 120_000 },
  );
  return 'started';
}
