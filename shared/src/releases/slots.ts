/**
 * A release moved into service through nginx (`traffic: nginx`, see traffic.ts): started in the idle
 * slot beside the live one, health-gated on its own port through the SSH connection, then the
 * upstream file and `current` switched in one command, then proven through the public health URL as
 * every switch is (pm2's pid, start time and cwd; the version it serves). The live slot is never
 * restarted in place, so no request meets a closed port. A rollback to the release the previous
 * slot still runs only moves the upstream back: no start at all.
 */
import { OperationError, errorText } from '../errors.js';
import type { HealthReport } from '../health/verify.js';
import { probeUrl } from '../health/probe.js';
import { sleep as realSleep } from '../retry/backoff.js';
import { RemoteCommandError, type SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import { formatBytes } from '../config/parse.js';
import type { AppEntry } from './entry.js';
import { healthUrlFor } from './host-url.js';
import { liveStore, type DeployDeps, type HostRun, type ReleaseTarget } from './host-run.js';
import { releaseDir } from './layout.js';
import { parseHostClock, type ReleaseStore } from './store.js';
import { deleteApp, pm2List, readAppPids, startApp, type Pm2Process } from './pm2.js';
import { healthOnHostPort } from './preflight.js';
import {
  NGINX_TEST_FAILED,
  nginxSaid,
  otherSlot,
  liveUpstream,
  refuseBypass,
  slotName,
  slotPort,
  swapUpstreamCommand,
  type LiveUpstream,
  type TrafficOptions,
} from './traffic.js';
import { entryOf, HealthGateFailed, switchedEntry, verifyRunning } from './switch-verify.js';

/** How long nginx's old workers get to finish what they proxy to a slot before it is stopped. */
export const DRAIN_MS = 2000;

export interface SlotSwitch {
  /** Start the release afresh even when the idle slot runs it (a restart: the environment changed). */
  fresh?: boolean;
  /** Stop the slot that served before once the new one is proven (a restart, a rotation). */
  stopPrevious?: boolean;
  /** Marks `from` bad with this reason in the same command as the switch. */
  markFromBad?: string;
  /** The entry to start it with (else the release's recorded one). */
  entry: AppEntry;
  /** Values the new process must hold (a rotation's): given through stdin, never on a command line. */
  secretEnv?: Record<string, string>;
}

const trafficOf = (target: ReleaseTarget) => target.traffic as TrafficOptions;

export async function switchSlot(
  run: HostRun,
  release: string,
  sha: string | undefined,
  from: string | undefined,
  target: ReleaseTarget,
  deps: DeployDeps,
  how: SlotSwitch,
): Promise<HealthReport> {
  const traffic = trafficOf(target);
  const { session, store } = await liveStore(run, target, deps.log);
  // What the host was last known to serve, under this run's lease: read when it was opened, or set
  // by this run's last swap. Taken once: a swap cut off half way leaves it unknown, read again.
  const known = run.upstream;
  run.upstream = undefined;
  const live = known ?? (await liveUpstream(run.name, session, traffic));
  refuseBypass(run.name, healthUrlFor(target.healthUrls, run.index, run.target), live, traffic);
  const idle = otherSlot(live.slot);
  const port = slotPort(traffic, idle);
  const name = slotName(target.pm2.name, idle);
  const slotTarget: ReleaseTarget = { ...target, pm2: { ...target.pm2, name } };
  const dir = releaseDir(store.paths, release);
  // Whether the idle slot still runs this release: from pm2's list when the host was read with it,
  // else from pm2's pid files and /proc (a rollback through nginx waits on no pm2 start-up).
  const listed = run.processes;
  run.processes = undefined;
  // The idle slot's pid files as read with the lease, when nothing has swapped since (used once).
  const pids = known ? run.slotPids?.[idle] : undefined;
  run.slotPids = undefined;
  const reuse = !how.fresh && (await idleRuns(session, listed, name, dir, pids));
  const processes = listed ?? (reuse ? [] : await pm2List(session));
  const inIdle = processes.filter((p) => p.name === name);
  const liveName = live.slot ? slotName(target.pm2.name, live.slot) : target.pm2.name;
  let since: number | undefined;
  let stoppedLive = false;
  if (reuse) {
    deps.log.info(`${run.name}: ${release} still runs in ${name} (port ${port}): only the traffic moves`);
  } else {
    await refusePortTaken(run, session, port, name, live, inIdle.length > 0);
    stoppedLive = await makeRoom(run, session, processes, liveName, traffic, deps);
    // What the idle slot ran is not live (the release before the previous one, or a leftover).
    const { stdout } = await session.run(
      `pm2 delete ${name}`,
      sh`pm2 delete ${name} >/dev/null 2>&1; date +%s%3N`,
    );
    since = parseHostClock(stdout);
    deps.log.info(
      `${run.name}: starting ${release} as ${name} on port ${port} (${traffic.portEnv}), beside ${liveName}`,
    );
    await startApp(
      session,
      dir,
      slotTarget.pm2,
      how.entry,
      {
        RELEASE_ID: release,
        ...(sha ? { GIT_SHA: sha } : {}),
        [traffic.portEnv]: String(port),
      },
      how.secretEnv,
    );
  }
  try {
    await gateOnItsPort(run, session, release, sha, port, name, liveName, live, slotTarget, deps, !reuse);
  } catch (error) {
    if (stoppedLive)
      await session.run(`pm2 restart ${liveName}`, sh`pm2 restart ${liveName}`).catch(() => undefined);
    throw error;
  }
  const next: LiveUpstream = { port, slot: idle, release };
  const first = sh`${how.markFromBad && from ? store.markBadCommand(from, how.markFromBad, target.holder.actor) : sh`true`} && ${swapUpstreamCommand(traffic, target.pm2.name, next, { test: !reuse })}`;
  try {
    await store.switchTo(
      release,
      { ...switchedEntry(run, release, sha, from, target, how.entry), slot: idle, port },
      first,
    );
  } catch (error) {
    if (!(error instanceof RemoteCommandError) || error.code !== NGINX_TEST_FAILED) throw error;
    if (!reuse) await deleteApp(session, name).catch(() => undefined);
    throw new OperationError(
      `${run.name}: ${reuse ? "nginx's reload (which tests the config first)" : 'nginx -t'} refused the config with the upstream pointed at ${name}, so it was put back and nginx was NOT reloaded: ${liveName} (port ${live.port}) still serves. nginx said: ${nginxSaid(errorText(error))}`,
      'fix the nginx configuration (`nginx -t` on the host says where), then run again.',
    );
  }
  run.switched = true;
  run.report.switched = true;
  run.upstream = next;
  run.report.pm2 = `${name} ${reuse ? 'kept running' : 'started'} on port ${port}; nginx moved from ${liveName}`;
  if (traffic.overlapStopCommand && live.slot)
    await session
      .run(
        'tell the previous slot to stop background work',
        sh`SLOT_NAME=${liveName} SLOT_PORT=${String(live.port)} sh -c ${traffic.overlapStopCommand}`,
        { timeoutMs: 30_000 },
      )
      .catch((error) => deps.log.warn(`${run.name}: overlap-stop-command failed: ${errorText(error)}`));
  if (from !== release) await untilNginxMoved(run, release, sha, slotTarget, deps);
  const health = await verifyRunning(run, session, sha, slotTarget, deps, {
    releaseDir: dir,
    ...(since !== undefined ? { since } : {}),
  });
  // A slot stopped to make room (when-short-of-memory: fallback) is not kept for a rollback: pm2 lists it stopped.
  await retire(
    run,
    session,
    live,
    liveName,
    target,
    deps,
    stoppedLive ? { ...how, stopPrevious: true } : how,
  );
  return health;
}

/**
 * The live release started afresh in the other slot — with `secretEnv` when the environment
 * changed (a rotation, set-env) — gated, the traffic moved, the old slot stopped: pm2's restart
 * without its gap (ops restart/reload, rotation). `fresh: false` (a revert) moves the traffic back
 * to the slot that still runs it.
 */
export async function restartLiveInSlot(
  run: HostRun,
  target: ReleaseTarget,
  deps: DeployDeps,
  how: { fresh: boolean; secretEnv?: Record<string, string> },
): Promise<HealthReport> {
  const state = await (run.store as ReleaseStore).state();
  run.state = state;
  const release = state.current;
  if (!release)
    throw new OperationError(
      `${run.name}: ${target.appDir} has no current release to start. Nothing was changed.`,
      'deploy the app (action-deploy) with traffic: nginx first.',
    );
  const sha = state.releases.find((r) => r.id === release)?.sha;
  return switchSlot(run, release, sha, release, target, deps, {
    entry: await entryOf(run, release, target),
    fresh: how.fresh,
    stopPrevious: true,
    ...(how.secretEnv ? { secretEnv: how.secretEnv } : {}),
  });
}

/**
 * The slot that served before: kept for an instant rollback (`keep-previous`), or stopped once
 * nginx's old workers drained it. A plain pm2 app (a host adopted into slots) is always stopped:
 * its port is no slot's, so it could never be switched back to.
 */
async function retire(
  run: HostRun,
  session: SshSession,
  live: LiveUpstream,
  liveName: string,
  target: ReleaseTarget,
  deps: DeployDeps,
  how: SlotSwitch,
): Promise<void> {
  const keep = trafficOf(target).keepPreviousMs;
  const plain = run.processes?.some((p) => p.name === target.pm2.name) ?? false;
  const stop = [
    ...(plain ? [target.pm2.name] : []),
    ...(live.slot && (how.stopPrevious || keep !== 'next-deploy') ? [liveName] : []),
  ];
  if (stop.length === 0) {
    deps.log.info(
      `${run.name}: ${liveName} keeps running (keep-previous: next-deploy), for an instant rollback`,
    );
    return;
  }
  const wait = how.stopPrevious || keep === 'next-deploy' ? DRAIN_MS : Math.max(DRAIN_MS, keep);
  deps.log.info(
    `${run.name}: stopping ${stop.join(', ')} in ${Math.round(wait / 100) / 10} s, once nginx drained it`,
  );
  await (deps.sleep ?? realSleep)(wait);
  for (const app of stop) await deleteApp(session, app);
  run.processes = run.processes?.filter((p) => !stop.includes(p.name));
}

/**
 * Whether the slot nginx does not send traffic to runs `release` from its directory now (pm2's pid
 * files and /proc, no pm2 start-up): then a rollback only moves the traffic, and a release that runs
 * needs no check that it can start.
 */
export async function idleSlotRuns(run: HostRun, target: ReleaseTarget, release: string): Promise<boolean> {
  if (!target.traffic || !run.upstream) return false;
  const idle = otherSlot(run.upstream.slot);
  const name = slotName(target.pm2.name, idle);
  const dir = releaseDir((run.store as ReleaseStore).paths, release);
  // Read with the lease when the host was opened (nothing has changed since, under it); the switch
  // that follows reads the same.
  return idleRuns(run.session as SshSession, run.processes, name, dir, run.slotPids?.[idle]);
}

async function idleRuns(
  session: SshSession,
  known: Pm2Process[] | undefined,
  name: string,
  dir: string,
  /** Its pid files as read already, if they were. */
  read?: { pid: number; cwd: string }[],
): Promise<boolean> {
  if (known) {
    const mine = known.filter((p) => p.name === name);
    return mine.length > 0 && mine.every((p) => p.status === 'online' && p.pid > 0 && p.cwd === dir);
  }
  const pids = read ?? (await readAppPids(session, name));
  return pids.length > 0 && pids.every((p) => p.cwd === dir);
}

/** How long nginx's reload may take to reach its workers, and how often it is looked at meanwhile. */
export const RELOAD_SETTLE_MS = 3000;
const RELOAD_POLL_MS = 25;
const SETTLED_ANSWERS = 3;

/**
 * `nginx -s reload` returns once the master is signalled; its old workers answer until the new ones
 * run. Until the public health URL has answered three times in a row with another version than it
 * served before the switch, it is looked at every 25 ms (bounded, no attempt counted), so that the
 * health gate's first attempt meets the new slot, not an `interval` later. An app that serves no
 * version is not waited for: the gate's proof is pm2's then, and an old slot is stopped only after
 * nginx drained it.
 */
async function untilNginxMoved(
  run: HostRun,
  release: string,
  sha: string | undefined,
  target: ReleaseTarget,
  deps: DeployDeps,
): Promise<void> {
  const before = run.before?.version;
  // Nothing to tell apart: no version served, or the same one (a sha deployed again).
  if (!before || before === sha || before === release) return;
  const url = healthUrlFor(target.healthUrls, run.index, run.target);
  const options = { ...target.health, expectedVersion: undefined, urls: [url] };
  const now = deps.now ?? (() => new Date());
  // For a moment old and new workers both accept on nginx's socket: the old release must stay away
  // for a few answers in a row. A refusal or a reset while nginx swaps its workers is asked again.
  let away = 0;
  for (const until = Date.now() + RELOAD_SETTLE_MS; Date.now() < until && away < SETTLED_ANSWERS;) {
    const probe = await probeUrl(url, 0, options, now).catch(() => undefined);
    const moved = probe && !probe.refused && probe.statusCode !== undefined && probe.version !== before;
    away = moved ? away + 1 : 0;
    if (away < SETTLED_ANSWERS) await (deps.sleep ?? realSleep)(RELOAD_POLL_MS);
  }
}

/** The health gate on the slot's own port, through the SSH connection, before any traffic moves. */
async function gateOnItsPort(
  run: HostRun,
  session: SshSession,
  release: string,
  sha: string | undefined,
  port: number,
  name: string,
  liveName: string,
  live: LiveUpstream,
  slotTarget: ReleaseTarget,
  deps: DeployDeps,
  started: boolean,
): Promise<void> {
  const health = await healthOnHostPort(run, session, slotTarget, port, sha, run.before, deps);
  if (health.healthy) return;
  if (started) await deleteApp(session, name).catch(() => undefined);
  const gate = new HealthGateFailed(health, name);
  throw new OperationError(
    `${run.name}: ${release} did not answer healthy in ${name} on port ${port}, so no traffic was moved to it${started ? ' and it was stopped' : ''}; ${liveName} (port ${live.port}) still serves. ${health.failure ?? ''}`,
    `${gate.hint} The app must listen on the port given in its port variable (port-env).`,
  );
}

/** Something other than the slot's own process listening on its port: refused, with nothing changed. */
async function refusePortTaken(
  run: HostRun,
  session: SshSession,
  port: number,
  name: string,
  live: LiveUpstream,
  ownRuns: boolean,
): Promise<void> {
  if (live.port === port)
    throw new OperationError(
      `${run.name}: nginx sends traffic to port ${port}, which slot-ports gives to ${name}: the live app would be replaced in place. Nothing was changed.`,
      'give slot-ports two ports that the app does not listen on now (traffic-setup keeps its port for the first switch).',
    );
  // While the slot's own process runs, it is what listens there (it is deleted next).
  if (ownRuns) return;
  const open = await session.forward('127.0.0.1', port).then(
    (stream) => {
      stream.destroy();
      return true;
    },
    () => false,
  );
  if (open)
    throw new OperationError(
      `${run.name}: something that is not ${name} listens on port ${port} (slot-ports), so ${name} could not serve there. Nothing was changed.`,
      `find it with \`ss -ltnp 'sport = :${port}'\` on the host and stop it, or give slot-ports two free ports.`,
    );
}

/**
 * Room for a second process: when the host's available memory is below 1.5 × what the live slot
 * uses, a start beside it could push the host into swap or the OOM killer. Then either stop the
 * live slot first (`fallback`: a short gap, said) or refuse with nothing changed.
 */
async function makeRoom(
  run: HostRun,
  session: SshSession,
  processes: Pm2Process[],
  liveName: string,
  traffic: TrafficOptions,
  deps: DeployDeps,
): Promise<boolean> {
  const pids = processes.filter((p) => p.name === liveName && p.pid > 0).map((p) => p.pid);
  const { stdout } = await session.run(
    'read free memory and what the live app uses',
    sh`awk '/^MemAvailable:/ { print $2 }' /proc/meminfo; for p in ${pids}; do awk '/^VmRSS:/ { print $2 }' /proc/$p/status 2>/dev/null; done`,
  );
  const [available = 0, ...rss] = stdout.trim().split('\n').map(Number);
  const used = rss.reduce((sum, kb) => sum + kb, 0) * 1024;
  const need = Math.round(used * 1.5);
  run.report.memory = { availableBytes: available * 1024, liveSlotBytes: used };
  if (used === 0 || available * 1024 >= need) return false;
  const short = `${formatBytes(available * 1024)} of memory is available on ${run.name}, less than 1.5 × the ${formatBytes(used)} ${liveName} uses`;
  if (traffic.whenShortOfMemory === 'refuse')
    throw new OperationError(
      `${short}: a second process beside it could push the host into swap or the OOM killer. Nothing was changed.`,
      'free memory (or resize the droplet), or set when-short-of-memory: fallback to stop the live slot before the start (a short gap in service).',
    );
  deps.log.warn(
    `${short}: stopping ${liveName} before the start (when-short-of-memory: fallback); requests fail until the new slot answers`,
  );
  await session.run(`pm2 stop ${liveName}`, sh`pm2 stop ${liveName}`, { okCodes: [1] });
  return true;
}
