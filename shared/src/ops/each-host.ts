/** Each host in turn over a session of its own, closed whatever happens; a failure names its host. */
import { ConfigurationError, OperationError, errorText } from '../errors.js';
import type { Log } from '../log.js';
import { openSession, type SshOptions } from '../ssh/connect.js';
import type { SshSession } from '../ssh/session.js';
import { describeTarget, type SshTarget } from '../ssh/target.js';

export async function eachHostSession<T>(
  hosts: SshTarget[],
  ssh: SshOptions,
  log: Log,
  fn: (session: SshSession, host: string) => Promise<T>,
): Promise<T[]> {
  const results: T[] = [];
  for (const target of hosts) {
    const host = describeTarget(target);
    const session = await openSession(target, ssh, log);
    try {
      results.push(await fn(session, host));
    } catch (error) {
      // An input the host proved wrong (an invalid log pattern) stays the user's error.
      if (error instanceof ConfigurationError) throw error;
      throw error instanceof OperationError
        ? new OperationError(`${host}: ${error.message}`, error.hint)
        : new Error(`${host}: ${errorText(error)}`, { cause: error });
    } finally {
      session.close();
    }
  }
  return results;
}
