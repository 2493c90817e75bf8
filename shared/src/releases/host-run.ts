/**
 * One host's part in a deploy or rollback: its session, store, lease and report, and the
 * lifecycle every procedure shares — connect, lock, read; reconnect to restore; unlock, close.
 */
import { errorText } from '../errors.js';
import type { HealthCriteria } from '../health/options.js';
import type { HealthReport } from '../health/verify.js';
import type { Log } from '../log.js';
import { openSession, type SshOptions } from '../ssh/connect.js';
import type { SshSession } from '../ssh/session.js';
import { describeTarget, type SshTarget } from '../ssh/target.js';
import { acquireLease, releaseLease, type Holder, type Lease } from './lease.js';
import { pm2List, type Pm2AppOptions, type Pm2Process } from './pm2.js';
import { ReleaseStore, type HostState } from './store.js';

export interface ReleaseTarget {
  hosts: SshTarget[];
  ssh: SshOptions;
  appDir: string;
  pm2: Pm2AppOptions;
  /** `{host}` templates or one URL per host. */
  healthUrls: string[];
  health: HealthCriteria;
  stabilizationMs: number;
  lockTtlMs: number;
  holder: Holder;
}

export type HostOutcome = 'deployed' | 'rolled-back' | 'not-switched' | 'failed' | 'planned';

export interface HostReport {
  host: string;
  release?: string;
  previousRelease?: string;
  outcome: HostOutcome;
  pm2?: string;
  health?: { healthy: boolean; attempts: number; failure?: string };
  rollbackHealth?: { healthy: boolean; attempts: number; failure?: string };
  error?: string;
  pruned?: string[];
  durationMs: number;
}

export interface DeployDeps {
  log: Log;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

/** One host's part in a deploy or rollback. */
export interface HostRun {
  index: number;
  target: SshTarget;
  name: string;
  session?: SshSession;
  store?: ReleaseStore;
  lease?: Lease;
  state?: HostState;
  release?: string;
  previous?: string;
  switched: boolean;
  /** pm2's process list as read when the host was opened; used once, by the first switch. */
  processes?: Pm2Process[];
  /** Where the new code was unpacked (the release directory, or <app-dir>-next-<id> for legacy). */
  nextDir?: string;
  report: HostReport;
  started: number;
}

export const summary = (h: HealthReport) => ({
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
    report: { host: describeTarget(target), outcome: 'not-switched', durationMs: 0 },
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

/** Connects, takes the lease and reads the state of one host. */
export async function openHost(
  run: HostRun,
  target: ReleaseTarget,
  log: Log,
  now: () => Date,
): Promise<void> {
  run.session = await openSession(run.target, target.ssh, log);
  run.store = new ReleaseStore(run.session, target.appDir);
  run.lease = await acquireLease(run.session, run.store.paths, target.holder, target.lockTtlMs, log, now);
  // Two channels on one connection at once: pm2's slow start-up hides behind the state read.
  const session = run.session;
  [run.state, run.processes] = await Promise.all([
    run.store.state(),
    pm2List(session).catch(() => undefined),
  ]);
}

export async function closeHost(run: HostRun, log: Log): Promise<void> {
  if (run.session && run.lease && run.store) {
    await releaseLease(run.session, run.store.paths, run.lease).catch((error) =>
      log.warn(
        `${run.name}: could not release the deploy lock (${errorText(error)}); it expires by itself at ${run.lease?.expiresAt}`,
      ),
    );
  }
  run.session?.close();
}

/** A session that works: the run's own, or a fresh one if the connection was lost (to roll back). */
export async function liveStore(
  run: HostRun,
  target: ReleaseTarget,
  log: Log,
): Promise<{ session: SshSession; store: ReleaseStore }> {
  if (run.session?.connected && run.store) return { session: run.session, store: run.store };
  log.warn(`${run.name}: connection lost; reconnecting to restore the previous release`);
  run.session?.close();
  run.session = await openSession(run.target, target.ssh, log);
  run.store = new ReleaseStore(run.session, target.appDir);
  return { session: run.session, store: run.store };
}

/**
 * Switches one host to `release`, makes pm2 run it, and proves it: health with the release's sha
 * serving, then no pm2 restarts during the stabilization window. Throws when not proven.
 */
