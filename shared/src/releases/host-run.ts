/**
 * One host's part in a deploy or rollback: its session, store, lease and report, and the
 * lifecycle every procedure shares — connect, lock, read; reconnect to restore; unlock, close.
 */
import { OperationError, errorText } from '../errors.js';
import type { HealthCriteria } from '../health/options.js';
import type { HealthReport } from '../health/verify.js';
import type { Log } from '../log.js';
import { openSession, type RetryBudget, type SshOptions } from '../ssh/connect.js';
import { ConnectionLost, type SshSession } from '../ssh/session.js';
import { describeTarget, type SshTarget } from '../ssh/target.js';
import {
  Heartbeat,
  acquireLease,
  describeHolder,
  heartbeatInterval,
  releaseLease,
  renewLease,
  type Holder,
  type Lease,
  type LeasePolicy,
} from './lease.js';
import { pm2List, type Pm2AppOptions, type Pm2Process } from './pm2.js';
import type { AppEntry } from './entry.js';
import type { ProbeRecord } from '../health/probe.js';
import type { SmokeRequest } from '../health/smoke.js';
import { ReleaseStore, symlinkRefusal, type HostState } from './store.js';

export interface ReleaseTarget {
  hosts: SshTarget[];
  ssh: SshOptions;
  appDir: string;
  pm2: Pm2AppOptions;
  /** `{host}` templates or one URL per host. */
  healthUrls: string[];
  health: HealthCriteria;
  /**
   * Whether the served version must match: `require`, `off`, or `auto` — required when expected-version
   * is given or the release being replaced served a version field, else checked only when served.
   * pm2's proof (pid online, started after the switch, cwd in the release) is made whatever this says.
   */
  versionCheck: 'auto' | 'require' | 'off';
  /** Real requests that must answer as said once /health passes (empty: none). */
  smokeRequests: SmokeRequest[];
  stabilizationMs: number;
  lock: LeasePolicy;
  /** How long to keep trying to reach a switched host again to restore it. */
  restoreDeadlineMs: number;
  holder: Holder;
}

export type HostOutcome = 'deployed' | 'rolled-back' | 'not-switched' | 'failed' | 'planned' | 'unreachable';

export interface HealthSummary {
  healthy: boolean;
  attempts: number;
  failure?: string;
}

export interface HostReport {
  host: string;
  release?: string;
  previousRelease?: string;
  outcome: HostOutcome;
  /** `current` was switched to the new release (read back from the host when the connection was lost). */
  switched: boolean;
  /** Switched back to the release that served before. */
  restored: boolean;
  /** A failed first deploy: whether an app pm2 ran from elsewhere runs again, or nothing ran before. */
  firstDeploy?: 'ran-before' | 'nothing-before';
  /** What serves now was proven healthy. */
  verified: boolean;
  /** Reached again when it had to be; false: its state is unknown. */
  reachable: boolean;
  pm2?: string;
  health?: HealthSummary;
  rollbackHealth?: HealthSummary;
  error?: string;
  pruned?: string[];
  durationMs: number;
}

export interface DeployDeps {
  log: Log;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  /** Aborted when the run is cancelled (SIGINT/SIGTERM): see cancel.ts. */
  signal?: AbortSignal;
}

/** One host's part in a deploy or rollback. */
export interface HostRun {
  index: number;
  target: SshTarget;
  name: string;
  session?: SshSession;
  store?: ReleaseStore;
  lease?: Lease;
  heartbeat?: Heartbeat;
  state?: HostState;
  release?: string;
  previous?: string;
  switched: boolean;
  /** pm2's process list as read when the host was opened; used once, by the first switch. */
  processes?: Pm2Process[];
  /** Where the new code was unpacked (the release directory, or <app-dir>-next-<id> for legacy). */
  nextDir?: string;
  /** The new release's entry point, found when it was prepared. */
  entry?: AppEntry;
  /** Entries of other releases, as entryOf found them. */
  entries?: Map<string, AppEntry>;
  /** Rollback: the host is on the target already, pm2 runs it from there and it answers healthy. */
  alreadyServing?: boolean;
  /** The health URL's answer before anything changed (read once, at the first switch). */
  before?: ProbeRecord;
  report: HostReport;
  started: number;
}

export const summary = (h: HealthReport): HealthSummary => ({
  healthy: h.healthy,
  attempts: h.attempts,
  ...(h.failure ? { failure: h.failure } : {}),
});

/** One HostRun per target, in order, nothing switched yet. */
export function hostRuns(targets: SshTarget[], started: number): HostRun[] {
  return targets.map((target, index) => ({
    index,
    target,
    name: describeTarget(target),
    switched: false,
    started,
    report: {
      host: describeTarget(target),
      outcome: 'not-switched',
      switched: false,
      restored: false,
      verified: false,
      reachable: true,
      durationMs: 0,
    },
  }));
}

export async function forEachBatch<T>(
  items: T[],
  size: number,
  fn: (item: T) => Promise<void>,
): Promise<PromiseSettledResult<void>[]> {
  const results: PromiseSettledResult<void>[] = [];
  for (let i = 0; i < items.length; i += size) {
    results.push(...(await Promise.allSettled(items.slice(i, i + size).map(fn))));
  }
  return results;
}

export function firstRejection(results: PromiseSettledResult<void>[]): unknown {
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  return failed?.reason;
}

/**
 * Connects to every host, refuses one machine named twice (it would lock itself out), then takes
 * each host's lease (kept alive by a heartbeat) and reads its state. Nothing changes if this fails.
 */
export async function openHosts(
  runs: HostRun[],
  target: ReleaseTarget,
  operation: 'deploy' | 'rollback',
  deps: DeployDeps,
  /** Hosts opened at once: at least 8, more when more are switched at once. */
  maxParallel = 1,
): Promise<void> {
  const { log } = deps;
  const parallel = Math.max(8, maxParallel);
  const connected = await forEachBatch(runs, parallel, async (run) => {
    run.session = await openSession(run.target, target.ssh, log);
    run.store = new ReleaseStore(run.session, target.appDir);
  });
  const connectFailure = firstRejection(connected);
  if (connectFailure) throw connectFailure;
  refuseTwins(runs, operation);
  const locked = await forEachBatch(runs, parallel, (run) => lockAndRead(run, target, operation, deps));
  const lockFailure = firstRejection(locked);
  if (lockFailure) throw lockFailure;
}

/** One machine reached under two names would run the procedure twice and lock itself out. */
export function refuseTwins(runs: HostRun[], operation: string): void {
  const byKey = new Map<string, HostRun>();
  for (const run of runs) {
    const key = run.session?.hostKey ?? '';
    const twin = key ? byKey.get(key) : undefined;
    if (twin) {
      throw new OperationError(
        `${twin.name} and ${run.name} are the same machine (both offer host key ${key}); a ${operation} would run twice on it and lock itself out. Nothing was changed.`,
        'list each host once in `hosts`.',
      );
    }
    byKey.set(key, run);
  }
}

async function lockAndRead(
  run: HostRun,
  target: ReleaseTarget,
  operation: 'deploy' | 'rollback',
  deps: DeployDeps,
): Promise<void> {
  const session = run.session as SshSession;
  const store = run.store as ReleaseStore;
  const { lease, tookOver } = await acquireLease(
    session,
    store.paths,
    target.holder,
    operation,
    target.lock,
    deps.log,
    deps,
  );
  run.lease = lease;
  run.heartbeat = new Heartbeat(
    () => run.session,
    store.paths,
    lease,
    heartbeatInterval(target.lock.graceMs),
    deps.log,
  );
  // Two channels on one connection at once: pm2's slow start-up hides behind the state read.
  [run.state, run.processes] = await Promise.all([store.state(), pm2List(session).catch(() => undefined)]);
  const refusal = symlinkRefusal(run.name, target.appDir, run.state);
  if (refusal) throw refusal;
  const orphan = tookOver?.lease.release;
  if (orphan && !run.state.history.get(orphan)?.live && orphan !== run.state.current) {
    deps.log.warn(`${run.name}: ${orphan} was left half-made by that run; marking it abandoned`);
    await store.markBad(
      orphan,
      `abandoned: ${describeHolder(tookOver.lease)} died while preparing it; it never served`,
      target.holder.actor,
      'abandoned',
    );
    run.state = await store.state();
  }
}

/**
 * Stops the heartbeat and releases the lease. A connection lost before anything switched is tried
 * again (connect-attempts, not the restore deadline) so that a blip does not leave the way back
 * locked until the lease's grace runs out.
 */
export async function closeHost(run: HostRun, target: ReleaseTarget, log: Log): Promise<void> {
  await run.heartbeat?.stop();
  if (run.lease && run.store && !run.heartbeat?.lost) {
    try {
      const session = await reachAgain(run, target, log, { attempts: target.ssh.connectAttempts });
      await releaseLease(session, run.store.paths, run.lease);
    } catch (error) {
      log.warn(
        `${run.name}: could not release the deploy lock (${errorText(error)}); its heartbeat has stopped, so the next run takes it over ${Math.round(target.lock.graceMs / 1000)} s from now`,
      );
    }
  }
  run.session?.close();
}

/** The run's session if it is connected, else a new one within `budget`; the store follows it. */
export async function reachAgain(
  run: HostRun,
  target: ReleaseTarget,
  log: Log,
  budget: RetryBudget,
): Promise<SshSession> {
  if (run.session?.connected) return run.session;
  run.session?.close();
  run.session = await openSession(run.target, target.ssh, log, budget);
  run.store = new ReleaseStore(run.session, target.appDir);
  return run.session;
}

/**
 * The way back, again after a connection that drops while it runs: the dead session is closed so that
 * liveStore reaches the host again (until `restore-deadline`), and `attempt` — which reads what the
 * host says before it changes anything — runs again. A client can learn of the drop only when a
 * command fails on it (`connected` still says true), so liveStore alone cannot catch this case.
 */
export async function retryAfterConnectionLoss<T>(
  run: HostRun,
  target: ReleaseTarget,
  log: Log,
  attempt: () => Promise<T>,
): Promise<T> {
  const until = Date.now() + target.restoreDeadlineMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof ConnectionLost)) throw error;
      run.session?.close();
      if (Date.now() >= until) {
        run.report.reachable = false;
        throw error;
      }
      log.warn(`${run.name}: ${errorText(error).split('\n')[0]}; reaching it again to put it right`);
    }
  }
}

/**
 * A session that works: the run's own, or — when the connection was lost — a new one, retried
 * until `restore-deadline` so that an sshd restart or a network blip cannot strand a switched host.
 * Throws when the host stays unreachable, or when another run took the lease over meanwhile.
 */
export async function liveStore(
  run: HostRun,
  target: ReleaseTarget,
  log: Log,
): Promise<{ session: SshSession; store: ReleaseStore }> {
  if (run.session?.connected && run.store && !run.heartbeat?.lost)
    return { session: run.session, store: run.store };
  if (!run.session?.connected) {
    log.warn(
      `${run.name}: connection lost; reconnecting (for up to ${Math.round(target.restoreDeadlineMs / 1000)} s) to put it right`,
    );
    try {
      await reachAgain(run, target, log, { until: Date.now() + target.restoreDeadlineMs });
    } catch (error) {
      run.report.reachable = false;
      throw error;
    }
  }
  const session = run.session as SshSession;
  const store = run.store as ReleaseStore;
  if (run.lease && !(await renewLease(session, store.paths, run.lease))) {
    run.heartbeat?.stop();
    if (run.heartbeat) run.heartbeat.lost = 'another run took the deploy lock over';
    throw new OperationError(
      `${run.name}: another run took the deploy lock over while this one could not reach the host; this run changes nothing more there.`,
      `that run is in charge of ${run.name} now: read ${store.paths.log} on the host to see what it did.`,
    );
  }
  return { session, store };
}
