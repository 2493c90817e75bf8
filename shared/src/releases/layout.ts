/**
 * The releases layout on a host (Deployer's and Capistrano's):
 *
 *   <app-dir>/releases/<UTC timestamp>-<short sha>/   one directory per deploy
 *   <app-dir>/current -> releases/<id>                 switched atomically by rename(2)
 *   <app-dir>/shared/                                 .env, logs: outlive releases, linked into each
 *   <app-dir>/.runbook/releases.log                    JSON lines: who deployed what, when, outcome
 *   <app-dir>/.runbook/deploy.lock                     the deploy lease
 *   releases/<id>/REVISION                            the git sha of the release
 *   releases/<id>/BAD_RELEASE                         why it was abandoned (kept for forensics)
 */
import { ConfigurationError } from '../errors.js';
import { hasControlCharacters } from '../config/parse.js';
import { stamp } from '../stamp.js';
import { leasePaths, type LeasePaths } from '../fleet/lease.js';

export interface AppPaths extends LeasePaths {
  root: string;
  releases: string;
  current: string;
  shared: string;
}

export function appPaths(appDir: string): AppPaths {
  const root = appDir.replace(/\/+$/, '');
  return {
    root,
    releases: `${root}/releases`,
    current: `${root}/current`,
    shared: `${root}/shared`,
    ...leasePaths(root),
  };
}

export function releaseDir(paths: AppPaths, id: string): string {
  return `${paths.releases}/${id}`;
}

const RELEASE_ID = /^\d{8}T\d{6}Z-[0-9a-z]{4,40}(?:-\d{1,3})?$/;

export function isReleaseId(text: string): boolean {
  return RELEASE_ID.test(text);
}

export function parseReleaseId(input: string, raw: string): string {
  const text = raw.trim();
  if (!isReleaseId(text)) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not a release id; expected <UTC timestamp>-<short sha> such as 20261130T075100Z-1a2b3c4.`,
    );
  }
  return text;
}

/** `20261130T075100Z-1a2b3c4`; a suffix keeps two deploys of one sha in one second apart. */
export function newReleaseId(sha: string, now: Date, taken: readonly string[] = []): string {
  const base = `${stamp(now)}-${sha.toLowerCase().slice(0, 7)}`;
  let id = base;
  for (let n = 2; taken.includes(id); n++) id = `${base}-${n}`;
  return id;
}

/** An absolute path with no `..` and no control characters: anything else is refused. */
export function parseAppDir(input: string, raw: string): string {
  const text = raw.trim();
  if (
    !text.startsWith('/') ||
    text.split('/').some((segment) => segment === '..' || segment === '.') ||
    hasControlCharacters(text)
  ) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not an absolute directory path without .. or control characters (e.g. /var/www/bunty-backend).`,
    );
  }
  if (/\s/.test(text)) {
    // pm2 runs any script path holding a space through `bash -c` (pm2 lib/Common.js): the path would become code.
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} contains white space; pm2 would run a script path with a space as a shell command, so it is refused.`,
    );
  }
  if (text.replace(/\/+$/, '') === '') throw new ConfigurationError(input, 'must not be the root directory.');
  return text.replace(/\/+$/, '');
}

/** pm2 process names: what pm2 itself accepts, and not a number (pm2 reads those as ids). */
export function parseAppName(input: string, raw: string): string {
  const text = raw.trim();
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,99}$/.test(text) || /^\d+$/.test(text) || text === 'all') {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not a pm2 app name (letters, digits, . _ -; not a number, not "all").`,
    );
  }
  return text;
}

/** A git sha (7-40 hex); the deploy proves it runs through the health check. */
export function parseSha(input: string, raw: string): string {
  const text = raw.trim().toLowerCase();
  if (!/^[0-9a-f]{7,40}$/.test(text))
    throw new ConfigurationError(input, `${JSON.stringify(raw)} is not a git sha (7 to 40 hex digits).`);
  return text;
}
