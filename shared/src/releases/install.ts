/**
 * The install step (`npm ci --omit=dev` by default), run in the new code's directory as the user
 * wrote it, tied to the SSH connection (a cut-off install must not run on unsupervised) and
 * abandoned at once when the run is cancelled.
 */
import type { SshSession } from '../ssh/session.js';
import { tiedToConnection, userCommand } from '../ssh/shell.js';
import type { DeployDeps } from './host-run.js';
import type { DeployOptions } from './strategy.js';

/** The install for one host, or undefined when there is no install command. */
export function installer(
  session: SshSession,
  options: DeployOptions,
  deps: DeployDeps,
): ((dir: string) => Promise<void>) | undefined {
  const command = options.installCommand;
  if (!command) return undefined;
  return async (dir) => {
    await session.run('install', tiedToConnection(userCommand(dir, command)), {
      timeoutMs: options.installTimeoutMs,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
  };
}
