/**
 * One step on each host for the operations that do not switch what serves (logs, certificates,
 * log rotation, the maintenance page): the fleet's hosts, each over one SSH connection of its own,
 * at most `parallel` at a time, closed whatever happens. One error policy for all of them: an input
 * the host proved wrong (ConfigurationError) stays the user's error, an operation's failure is named
 * by its host, and anything else is a bug in runbook-actions, said as one — never "run again".
 */
import { ConfigurationError, OperationError } from '../errors.js';
import type { SshOptions } from '../ssh/connect.js';
import { openSession } from '../ssh/connect.js';
import type { SshSession } from '../ssh/session.js';
import type { SshTarget } from '../ssh/target.js';
import { fleetHosts, type FleetDeps, type FleetHost } from './hosts.js';
import { inParallel } from './parallel.js';

export interface EachHostPolicy {
  /** Hosts worked on at once. */
  parallel: number;
  /** Start no more hosts after the first failure (a host under way finishes). */
  stopAtFirstFailure: boolean;
}

export type HostStep<R> =
  | { host: FleetHost; status: 'done'; value: R }
  | { host: FleetHost; status: 'failed'; error: unknown }
  | { host: FleetHost; status: 'skipped' };

/** The failure of one host's step, named by its host, by the policy above. */
export function hostFailure(host: string, error: unknown): Error {
  if (error instanceof ConfigurationError) return error;
  if (error instanceof OperationError)
    return new OperationError(
      error.message.startsWith(`${host}:`) ? error.message : `${host}: ${error.message}`,
      error.hint,
      { cause: error },
    );
  return new Error(`${host}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Runs `step` on every host by `policy`; each host's result, in host order. */
export async function onEachHost<R>(
  targets: SshTarget[],
  ssh: SshOptions,
  deps: FleetDeps,
  policy: EachHostPolicy,
  step: (session: SshSession, host: FleetHost) => Promise<R>,
): Promise<HostStep<R>[]> {
  let failed = false;
  const settled = await inParallel(
    fleetHosts(targets),
    policy.parallel,
    async (host): Promise<HostStep<R>> => {
      if (failed && policy.stopAtFirstFailure) return { host, status: 'skipped' };
      let session: SshSession | undefined;
      try {
        session = await openSession(host.target, ssh, deps.log);
        host.session = session;
        return { host, status: 'done', value: await step(session, host) };
      } catch (error) {
        failed = true;
        const failure = hostFailure(host.name, error);
        if (!session?.connected) host.report.reachable = false;
        host.report.error = failure.message;
        return { host, status: 'failed', error: failure };
      } finally {
        session?.close();
      }
    },
  );
  // inParallel settles every item; the step above never throws.
  return settled.map((r) => (r as PromiseFulfilledResult<HostStep<R>>).value);
}

/** Every host's value, or the first failure thrown (in host order): for steps that must all succeed. */
export async function onEveryHost<R>(
  targets: SshTarget[],
  ssh: SshOptions,
  deps: FleetDeps,
  parallel: number,
  step: (session: SshSession, host: FleetHost) => Promise<R>,
): Promise<R[]> {
  const steps = await onEachHost(targets, ssh, deps, { parallel, stopAtFirstFailure: true }, step);
  const failure = steps.find((s) => s.status === 'failed');
  if (failure) throw failure.error;
  return steps.map((s) => (s as { value: R }).value);
}
