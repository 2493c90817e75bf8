/**
 * One host's part in a deploy or rollback: the fleet's host (session, lease, report) with its release
 * store and state, and how the hosts are opened for a deploy or rollback — the fleet's lifecycle
 * (fleet/hosts.ts), then each host's state read.
 */
import {
  liveUpstream,
  parseUpstream,
  refuseBypass,
  requireUpstream,
  slotName,
  SLOTS,
  upstreamReadCommand,
  type LiveUpstream,
  type Slot,
  type TrafficOptions,
} from './traffic.js';
import { healthUrlFor } from './host-url.js';
import type { HealthCriteria } from '../health/options.js';
import type { HealthReport } from '../health/verify.js';
import type { Log } from '../log.js';
import type { SshSession } from '../ssh/session.js';
import { describeHolder } from '../fleet/lease.js';
import {
  CONNECT_PARALLEL,
  fleetHosts,
  liveSession,
  openFleet,
  type FleetDeps,
  type FleetHost,
  type FleetTarget,
  type HostReportBase,
} from '../fleet/hosts.js';
import { inParallel, throwFirstRejection } from '../fleet/parallel.js';
import { appPidsCommand, parseAppPids, pm2List, type Pm2AppOptions, type Pm2Process } from './pm2.js';
import type { AppEntry } from './entry.js';
import type { ProbeRecord } from '../health/probe.js';
import type { SmokeRequest } from '../health/smoke.js';
import { parseState, ReleaseStore, stateCommand, symlinkRefusal, type HostState } from './store.js';
import { appPaths } from './layout.js';
import { allOf, sh, type ShellCommand } from '../ssh/shell.js';

export { closeHost, reachAgain, retryAfterConnectionLoss } from '../fleet/hosts.js';

export interface ReleaseTarget extends FleetTarget {
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
  /** `traffic: nginx`: releases in two slots behind nginx's upstream (traffic.ts); undefined: pm2 in place. */
  traffic?: TrafficOptions;
}

export type HostOutcome = 'deployed' | 'rolled-back' | 'not-switched' | 'failed' | 'planned' | 'unreachable';

export interface HealthSummary {
  healthy: boolean;
  attempts: number;
  failure?: string;
}

export interface HostReport extends HostReportBase {
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
  pm2?: string;
  health?: HealthSummary;
  rollbackHealth?: HealthSummary;
  pruned?: string[];
  /** traffic: nginx: the host's available memory and the live slot's, read before a second slot started. */
  memory?: { availableBytes: number; liveSlotBytes: number };
  durationMs: number;
}

export type DeployDeps = FleetDeps;

/** One host's part in a deploy or rollback. */
export interface HostRun extends FleetHost {
  /** The release store on the host's current session (rebound when it reconnects). */
  store?: ReleaseStore;
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
  /** traffic: nginx: what nginx's upstream file said when the host was opened (read again at each switch). */
  upstream?: LiveUpstream;
  /** traffic: nginx: each slot's live pids and their working directories, as read with the lease (used by the first switch). */
  slotPids?: Record<Slot, { pid: number; cwd: string }[]>;
  /** The health URL's answer before anything changed (read once, at the first switch). */
  before?: ProbeRecord;
  /** The health URL asked while the host was being opened (a rollback's), for readBefore. */
  askedEarly?: { answered: boolean; probe: Promise<ProbeRecord | undefined> };
  report: HostReport;
  started: number;
}

export const summary = (h: HealthReport): HealthSummary => ({
  healthy: h.healthy,
  attempts: h.attempts,
  ...(h.failure ? { failure: h.failure } : {}),
});

/** One HostRun per target, in order, nothing switched yet. */
export function hostRuns(target: Pick<ReleaseTarget, 'hosts' | 'appDir'>, started: number): HostRun[] {
  return fleetHosts(target.hosts).map((host) => {
    const run: HostRun = {
      ...host,
      attach: (session) => (run.store = new ReleaseStore(session, target.appDir)),
      switched: false,
      started,
      report: {
        ...host.report,
        outcome: 'not-switched',
        switched: false,
        restored: false,
        verified: false,
        durationMs: 0,
      },
    };
    return run;
  });
}

/**
 * Connects to every host, refuses one machine named twice (it would lock itself out), then takes
 * each host's lease (kept alive by a heartbeat) and reads its state. Nothing changes if this fails.
 */
export async function openHosts(
  runs: HostRun[],
  target: ReleaseTarget,
  operation: 'deploy' | 'rollback' | 'join',
  deps: DeployDeps,
  /** Hosts opened at once: at least CONNECT_PARALLEL, more when more are switched at once. */
  maxParallel = 1,
): Promise<void> {
  await openFleet(runs, target, operation, deps, {
    lease: true,
    parallel: maxParallel,
    readWithLease: () => openingRead(target),
  });
  throwFirstRejection(
    await inParallel(runs, Math.max(CONNECT_PARALLEL, maxParallel), (run) => readHost(run, target, deps)),
  );
}

/** A line between the parts of the opening read (no part prints it). */
const PART = '::runbook-read-part::';

/**
 * What a deploy or rollback reads of each host before anything else, in the command that takes its
 * lease: with traffic: nginx, the upstream file and both slots' pids (pid files, no pm2 start-up);
 * then the release state (last: it reads the release log to its end).
 */
function openingRead(target: ReleaseTarget): ShellCommand {
  const traffic = target.traffic;
  const paths = appPaths(target.appDir);
  const parts = traffic
    ? [
        sh`(${upstreamReadCommand(traffic)}) || echo ${UPSTREAM_MISSING}`,
        ...SLOTS.map((slot) => sh`(${appPidsCommand(slotName(target.pm2.name, slot))})`),
      ]
    : [];
  return allOf(...[...parts, sh`(${stateCommand(paths)})`].map((part) => sh`${part}; echo ${PART}`));
}
const UPSTREAM_MISSING = '::runbook-no-upstream::';

/** The parts openingRead printed, or undefined when it did not run (then each is read on its own). */
function readOpening(
  run: HostRun,
  target: ReleaseTarget,
): Pick<HostRun, 'state' | 'upstream' | 'slotPids'> | undefined {
  const read = run.leaseRead;
  run.leaseRead = undefined;
  if (read === undefined) return undefined;
  const parts = read.split(`${PART}\n`);
  const traffic = target.traffic;
  if (parts.length !== (traffic ? 4 : 1) + 1) return undefined;
  const state = parseState(parts[parts.length - 2] as string);
  if (!traffic) return { state };
  const text = parts[0] as string;
  const upstream = requireUpstream(
    run.name,
    traffic,
    text.trim() === UPSTREAM_MISSING ? undefined : parseUpstream(text, traffic),
  );
  const slotPids = Object.fromEntries(SLOTS.map((slot, i) => [slot, parseAppPids(parts[i + 1] as string)]));
  return { state, upstream, slotPids: slotPids as Record<Slot, { pid: number; cwd: string }[]> };
}

async function readHost(run: HostRun, target: ReleaseTarget, deps: DeployDeps): Promise<void> {
  const session = run.session as SshSession;
  const store = run.store as ReleaseStore;
  const opened = readOpening(run, target);
  if (opened) {
    Object.assign(run, opened);
    // pm2's list where a step needs it (not with traffic: nginx, whose rollback needs only pid files).
    if (!target.traffic) run.processes = await pm2List(session).catch(() => undefined);
  } else
    // Two channels on one connection at once: pm2's slow start-up hides behind the state read.
    // traffic: nginx reads pm2's list where a step needs it: a rollback to a slot that still runs
    // moves the traffic on pid files alone, with no pm2 start-up (~0.3 s of CPU) before it.
    [run.state, run.processes, run.upstream] = await Promise.all([
      store.state(),
      target.traffic ? undefined : pm2List(session).catch(() => undefined),
      target.traffic ? liveUpstream(run.name, session, target.traffic) : undefined,
    ]);
  if (!run.state) throw new Error(`${run.name}: the host's state was not read`);
  const refusal = symlinkRefusal(run.name, target.appDir, run.state);
  if (refusal) throw refusal;
  if (run.upstream && target.traffic)
    refuseBypass(
      run.name,
      healthUrlFor(target.healthUrls, run.index, run.target),
      run.upstream,
      target.traffic,
    );
  const orphan = run.tookOver?.lease.release;
  if (orphan && !run.state.history.get(orphan)?.live && orphan !== run.state.current) {
    deps.log.warn(`${run.name}: ${orphan} was left half-made by that run; marking it abandoned`);
    await store.markBad(
      orphan,
      `abandoned: ${describeHolder(run.tookOver?.lease ?? {})} died while preparing it; it never served`,
      target.holder.actor,
      'abandoned',
    );
    run.state = await store.state();
  }
}

/**
 * A session that works (fleet's liveSession: reconnected within restore-deadline, the lease checked),
 * and the release store on it.
 */
export async function liveStore(
  run: HostRun,
  target: ReleaseTarget,
  log: Log,
): Promise<{ session: SshSession; store: ReleaseStore }> {
  const session = await liveSession(run, target, log);
  return { session, store: run.store as ReleaseStore };
}
