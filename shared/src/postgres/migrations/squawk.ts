/**
 * Finding the pinned squawk (the PostgreSQL migration linter, sbdchd/squawk): its 25 MB binary comes
 * in npm's `@squawk-cli/<platform>` package, so it is installed at run time into the tool cache —
 * never bundled into a committed dist. `RUNBOOK_SQUAWK` names a binary to use instead (an offline
 * runner, the tests).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { OperationError, errorText } from '../../errors.js';
import type { Log } from '../../log.js';

export const SQUAWK_VERSION = '2.66.0';
/** npm fetching two packages (~10 MB packed): generous, but never unbounded. */
const INSTALL_TIMEOUT_MS = 180_000;

const run = promisify(execFile);

function platformPackage(): string {
  const os = process.platform === 'win32' ? 'win32' : process.platform;
  return `@squawk-cli/${os}-${process.arch}`;
}

function cacheDir(): string {
  return join(process.env.RUNNER_TOOL_CACHE || tmpdir(), 'runbook-squawk', SQUAWK_VERSION);
}

function binaryIn(dir: string): string {
  return join(
    dir,
    'node_modules',
    platformPackage(),
    'bin',
    process.platform === 'win32' ? 'squawk.exe' : 'squawk',
  );
}

/** The squawk binary's path; installs the pinned version once per tool cache. Throws an OperationError when it cannot. */
export async function findSquawk(log: Log): Promise<string> {
  const given = process.env.RUNBOOK_SQUAWK;
  if (given) {
    if (!existsSync(given))
      throw new OperationError(
        `RUNBOOK_SQUAWK names ${given}, which does not exist.`,
        'point it at a squawk binary, or unset it to install the pinned one.',
      );
    return given;
  }
  const dir = cacheDir();
  const binary = binaryIn(dir);
  if (existsSync(binary)) return binary;
  log.info(`installing squawk-cli@${SQUAWK_VERSION} into ${dir} (npm, up to ${INSTALL_TIMEOUT_MS / 1000} s)`);
  try {
    await mkdir(dir, { recursive: true });
    await run(
      process.platform === 'win32' ? 'npm.cmd' : 'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        `squawk-cli@${SQUAWK_VERSION}`,
      ],
      { timeout: INSTALL_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 8 << 20 },
    );
  } catch (error) {
    throw new OperationError(
      `The migration linter could not be installed (npm install squawk-cli@${SQUAWK_VERSION}): ${errorText(error).split('\n')[0]}.`,
      'check that the runner reaches the npm registry, or set RUNBOOK_SQUAWK to a squawk binary; lint: warn goes on without it, lint: off skips it.',
      { cause: error },
    );
  }
  if (!existsSync(binary))
    throw new OperationError(
      `npm installed squawk-cli@${SQUAWK_VERSION} but no ${platformPackage()} binary came with it (no build for this platform?).`,
      'set RUNBOOK_SQUAWK to a squawk binary, or lint: off.',
    );
  return binary;
}
