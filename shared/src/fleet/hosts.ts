/**
 * The host lifecycle every procedure shares: open the hosts (bounded parallel connects, one SSH
 * connection per host for the whole run), refuse one machine under two names, take the lease with its
 * heartbeat; reach a host again when its connection drops (within a deadline, the lease checked);
 * unlock and close. Each domain keeps its own state beside a FleetHost and its own report beside
 * HostReportBase; this module never knows what a release or a secret is.
 */
import { OperationError, errorText } from '../errors.js';
import type { Log } from '../log.js';
import type { Holder } from '../result.js';
import { openSession, type RetryBudget, type SshOptions } from '../ssh/connect.js';
import { ConnectionLost, type SshSession } from '../ssh/session.js';
import type { ShellCommand } from '../ssh/shell.js';
import { describeTarget, type SshTarget } from '../ssh/target.js';
import {
  Heartbeat,
  acquireLease,
  heartbeatInterval,
  leasePaths,
  releaseLease,
  renewLease,
  type FoundLease,
  type Lease,
  type LeasePolicy,
} from './lease.js';
import { inParallel, throwFirstRejection } from './parallel.js';

/** What every procedure's report says of a host, whatever else its domain adds. */
export interface HostReportBase {
  host: string;
  /** Reached again when it had to be; false: its state is unknown. */
  reachable: boolean;
  error?: string;
}

/** Where the fleet is and how it is reached, locked and put right. */
export interface FleetTarget {
  hosts: SshTarget[];
  ssh: SshOptions;
  appDir: string;
  lock: LeasePolicy;
  holder: Holder;
  /** How long to keep trying to reach a changed host again to put it back. */
  restoreDeadlineMs: number;
}

export interface FleetDeps {
  log: Log;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Aborted when the run is cancelled (SIGINT/SIGTERM): see cancel.ts. */
  signal?: AbortSignal;
}

/** One host of the fleet, as this run holds it. */
export interface FleetHost {
  index: number;
  target: SshTarget;
  name: string;
  session?: SshSession;
  lease?: Lease;
  heartbeat?: Heartbeat;
  /** The dead run's lease this run took over, if any (its half-made work may need marking). */
  tookOver?: FoundLease;
  report: HostReportBase;
  /** Called with every session the host gets (first and after a reconnect): the domain binds to it. */
  attach?: (session: SshSession) => void;
  /** What OpenOptions.readWithLease printed, read under the lease in the command that took it. */
  leaseRead?: string;
}

/** Hosts connected at once: bounded, so twenty hosts do not open twenty handshakes on two cores. */
export const CONNECT_PARALLEL = 8;

export interface OpenOptions {
  /** Take the deploy lease (a dry run, or a read-only operation, does not). */
  lease: boolean;
  /** Hosts opened at once (at least CONNECT_PARALLEL). */
  parallel?: number;
  /** A read-only command run in the lease's own command once the lock is taken (see FleetHost.leaseRead). */
  readWithLease?: (host: FleetHost) => ShellCommand;
}

/** A FleetHost for each target, in order, nothing reached yet. */
export function fleetHosts(targets: SshTarget[]): FleetHost[] {
  return targets.map((target, index) => {
    const name = describeTarget(target);
    return { index, target, name, report: { host: name, reachable: true } };
  });
}

/**
 * Connects every host, refuses twins, then takes each one's lease (kept alive by a heartbeat).
 * Nothing changes on any host if this throws; the caller closes the hosts either way (closeFleet).
 */
export async function openFleet(
  hosts: FleetHost[],
  target: FleetTarget,
  operation: string,
  deps: FleetDeps,
  options: OpenOptions,
): Promise<void> {
  const parallel = Math.max(CONNECT_PARALLEL, options.parallel ?? 0);
  throwFirstRejection(
    await inParallel(hosts, parallel, async (host) => {
      setSession(host, await openSession(host.target, target.ssh, deps.log));
    }),
  );
  refuseTwins(hosts, operation);
  if (!options.lease) return;
  const paths = leasePaths(target.appDir);
  throwFirstRejection(
    await inParallel(hosts, parallel, async (host) => {
      const { lease, tookOver, read } = await acquireLease(
        host.session as SshSession,
        paths,
        target.holder,
        operation,
        target.lock,
        deps.log,
        deps,
        options.readWithLease?.(host),
      );
      host.lease = lease;
      if (read !== undefined) host.leaseRead = read;
      if (tookOver) host.tookOver = tookOver;
      host.heartbeat = new Heartbeat(
        () => host.session,
        paths,
        lease,
        heartbeatInterval(target.lock.graceMs),
        deps.log,
      );
    }),
  );
}

function setSession(host: FleetHost, session: SshSession): void {
  host.session = session;
  host.attach?.(session);
}

/** One machine reached under two names would run the procedure twice and lock itself out. */
export function refuseTwins(hosts: FleetHost[], operation: string): void {
  const byKey = new Map<string, FleetHost>();
  for (const host of hosts) {
    const key = host.session?.hostKey ?? '';
    const twin = key ? byKey.get(key) : undefined;
    if (twin) {
      throw new OperationError(
        `${twin.name} and ${host.name} are the same machine (both offer host key ${key}); a ${operation} would run twice on it and lock itself out. Nothing was changed.`,
        'list each host once in `hosts`.',
      );
    }
    byKey.set(key, host);
  }
}

/** How long closing a host keeps trying to reach it again to release its lease. */
export const UNLOCK_REACH_MS = 5_000;

/**
 * Stops the heartbeat and releases the lease. A connection lost meanwhile is tried again — for a
 * few seconds (within restore-deadline), however few connect-attempts are given — so that an sshd
 * restart or a blip does not leave the way back locked until the lease's grace runs out.
 */
export async function closeHost(host: FleetHost, target: FleetTarget, log: Log): Promise<void> {
  await host.heartbeat?.stop();
  if (host.lease && !host.heartbeat?.lost && host.session) {
    const until = Date.now() + Math.min(UNLOCK_REACH_MS, target.restoreDeadlineMs);
    try {
      const release = async () =>
        releaseLease(
          await reachAgain(host, target, log, { until }),
          leasePaths(target.appDir),
          host.lease as Lease,
        );
      // A session that still says connected can be dead (the client learns it when a command fails
      // on it): then the host is reached once more, so that the drop does not keep the lock.
      await release().catch(async (error: unknown) => {
        if (!(error instanceof ConnectionLost)) throw error;
        host.session?.close();
        await release();
      });
    } catch (error) {
      log.warn(
        `${host.name}: could not release the deploy lock (${errorText(error)}); its heartbeat has stopped, so the next run takes it over ${Math.round(target.lock.graceMs / 1000)} s from now`,
      );
    }
  }
  host.session?.close();
}

export async function closeFleet(hosts: FleetHost[], target: FleetTarget, log: Log): Promise<void> {
  await Promise.all(hosts.map((host) => closeHost(host, target, log)));
}

/** The host's session if it is connected, else a new one within `budget`. */
export async function reachAgain(
  host: FleetHost,
  target: FleetTarget,
  log: Log,
  budget: RetryBudget,
): Promise<SshSession> {
  if (host.session?.connected) return host.session;
  host.session?.close();
  setSession(host, await openSession(host.target, target.ssh, log, budget));
  return host.session as SshSession;
}

/**
 * A session that works: the host's own, or — when the connection was lost — a new one, retried
 * until `restore-deadline` so that an sshd restart or a network blip cannot strand a changed host.
 * Throws when the host stays unreachable, or when another run took the lease over meanwhile.
 */
export async function liveSession(host: FleetHost, target: FleetTarget, log: Log): Promise<SshSession> {
  if (host.session?.connected && !host.heartbeat?.lost) return host.session;
  if (!host.session?.connected) {
    log.warn(
      `${host.name}: connection lost; reconnecting (for up to ${Math.round(target.restoreDeadlineMs / 1000)} s) to put it right`,
    );
    try {
      await reachAgain(host, target, log, { until: Date.now() + target.restoreDeadlineMs });
    } catch (error) {
      host.report.reachable = false;
      throw error;
    }
  }
  const session = host.session as SshSession;
  const paths = leasePaths(target.appDir);
  if (host.lease && !(await renewLease(session, paths, host.lease))) {
    void host.heartbeat?.stop();
    if (host.heartbeat) host.heartbeat.lost = 'another run took the deploy lock over';
    throw new OperationError(
      `${host.name}: another run took the deploy lock over while this one could not reach the host; this run changes nothing more there.`,
      `that run is in charge of ${host.name} now: read ${paths.log} on the host to see what it did.`,
    );
  }
  return session;
}

/**
 * The way back, again after a connection that drops while it runs: the dead session is closed so that
 * liveSession reaches the host again (until `restore-deadline`), and `attempt` — which reads what the
 * host says before it changes anything — runs again. A client can learn of the drop only when a
 * command fails on it (`connected` still says true), so liveSession alone cannot catch this case.
 */
export async function retryAfterConnectionLoss<T>(
  host: FleetHost,
  target: Pick<FleetTarget, 'restoreDeadlineMs'>,
  log: Log,
  attempt: () => Promise<T>,
): Promise<T> {
  const until = Date.now() + target.restoreDeadlineMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof ConnectionLost)) throw error;
      host.session?.close();
      if (Date.now() >= until) {
        host.report.reachable = false;
        throw error;
      }
      log.warn(`${host.name}: ${errorText(error).split('\n')[0]}; reaching it again to put it right`);
    }
  }
}
