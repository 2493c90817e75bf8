/**
 * The install step (`npm ci --omit=dev` by default), run in the new code's directory as the user
 * wrote it, tied to the SSH connection (a cut-off install must not run on unsupervised) and
 * abandoned at once when the run is cancelled. A failure is reported by its cause — npm's own
 * `npm error` lines and the exit code — not by the tail of the usage text npm prints after them;
 * `npm ci` without a lockfile is refused before npm runs, with both ways out.
 */
import { OperationError } from '../errors.js';
import { RemoteCommandError, type SshSession } from '../ssh/session.js';
import { sh, tiedToConnection, userCommand } from '../ssh/shell.js';
import type { DeployDeps } from './host-run.js';
import type { DeployOptions } from './strategy.js';

/** Exit code of the lockfile check (not one npm uses). */
const NO_LOCKFILE = 90;
const NPM_ERROR_LINES = 8;

/** The install for one host, or undefined when there is no install command. */
export function installer(
  session: SshSession,
  options: DeployOptions,
  deps: DeployDeps,
): ((dir: string) => Promise<void>) | undefined {
  const command = options.installCommand;
  if (!command) return undefined;
  const needsLockfile = /^\s*npm\s+(ci|clean-install|install-clean|isntall-clean|ic)(\s|$)/.test(command);
  const lockfileCheck = needsLockfile
    ? sh`if [ ! -f package-lock.json ] && [ ! -f npm-shrinkwrap.json ]; then exit ${NO_LOCKFILE}; fi && `
    : sh``;
  return async (dir) => {
    try {
      await session.run(
        'install',
        tiedToConnection(sh`cd -- ${dir} && ${lockfileCheck}${userCommand(dir, command)}`),
        {
          timeoutMs: options.installTimeoutMs,
          ...(deps.signal ? { signal: deps.signal } : {}),
        },
      );
    } catch (error) {
      throw installFailure(error, command, session.name);
    }
  };
}

/** What an install failure says: npm's error lines first, the exit code, what to do. */
export function installFailure(error: unknown, command: string, host: string): unknown {
  if (!(error instanceof RemoteCommandError) || error.code === null) return error;
  if (error.code === NO_LOCKFILE)
    return new OperationError(
      `install failed on ${host}: \`${command}\` needs a package-lock.json (or npm-shrinkwrap.json) in the release, and there is none. Nothing serving was changed.`,
      'commit the lockfile with the app (`npm install` writes it) so the artifact carries it, or set install-command: npm install --omit=dev.',
      { cause: error },
    );
  const text = error.message;
  const npmErrors = text
    .split('\n')
    .filter((line) => /^npm (error|ERR!)/.test(line) && line.replace(/^npm (error|ERR!)\s*/, '') !== '')
    .slice(0, NPM_ERROR_LINES);
  if (npmErrors.length === 0) return error;
  return new OperationError(
    `install failed on ${host}: \`${command}\` exited with code ${error.code}:\n${npmErrors.join('\n')}\nNothing serving was changed.`,
    'fix what npm says above (a dependency that does not resolve, a lockfile out of step with package.json: run `npm install` and commit the lockfile), or set install-command to the right command.',
    { cause: error },
  );
}
