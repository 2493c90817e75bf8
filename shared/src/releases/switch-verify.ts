/**
 * Switching one host and proving the result: health with the release's sha serving, then pm2's
 * restart count steady over the stabilization window; and the way back when that fails, decided
 * from what the host says is current, not from what this run believes it did.
 */
import { uncancellable } from '../cancel.js';
import { OperationError, errorText } from '../errors.js';
import { verifyHealth, type HealthReport } from '../health/verify.js';
import { sleep as realSleep } from '../retry/backoff.js';
import { ConnectionLost, type SshSession } from '../ssh/session.js';
import { healthUrlFor } from './host-url.js';
import {
  liveStore,
  retryAfterConnectionLoss,
  summary,
  type DeployDeps,
  type HostRun,
  type ReleaseTarget,
} from './host-run.js';
import {
  checkStable,
  deleteApp,
  processesAfterRestart,
  runCurrentRelease,
  startReplaced,
  type Pm2Process,
} from './pm2.js';
import { discoverEntry, recordOf, type AppEntry } from './entry.js';
import { releaseDir } from './layout.js';
import type { ReleaseLogEntry, ReleaseStore } from './store.js';
import { probeUrl, type ProbeRecord } from '../health/probe.js';
import { versionMatches } from '../health/assertions.js';
import type { HealthCriteria } from '../health/options.js';
import { sh } from '../ssh/shell.js';
import { switchSlot } from './slots.js';
import { runSmokeRequests } from '../health/smoke.js';

export async function switchAndVerify(
  run: HostRun,
  release: string,
  sha: string | undefined,
  /** What is current before this switch. */
  from: string | undefined,
  target: ReleaseTarget,
  deps: DeployDeps,
  /** Marks `from` bad with this reason in the same command as the switch. */
  markFromBad?: string,
  /** traffic: nginx: `from` failed, so its slot is stopped once the switch is proven. */
  fromFailed = false,
): Promise<HealthReport> {
  const { session, store } = await liveStore(run, target, deps.log);
  const entry = await entryOf(run, release, target);
  if (sha && target.versionCheck === 'auto' && !target.health.expectedVersion)
    await readBefore(run, target, deps);
  if (target.traffic)
    return switchSlot(run, release, sha, from, target, deps, {
      entry,
      ...(markFromBad ? { markFromBad } : {}),
      stopPrevious: fromFailed || markFromBad !== undefined,
    });
  const first =
    markFromBad && from ? store.markBadCommand(from, markFromBad, target.holder.actor) : undefined;
  const switchedAt = await store.switchTo(
    release,
    switchedEntry(run, release, sha, from, target, entry),
    first,
  );
  run.switched = true;
  run.report.switched = true;
  const env: Record<string, string> = { RELEASE_ID: release, ...(sha ? { GIT_SHA: sha } : {}) };
  const known = run.processes;
  run.processes = undefined;
  run.report.pm2 = await runCurrentRelease(session, store.paths, target.pm2, entry, env, known);
  return verifyRunning(
    run,
    session,
    sha,
    target,
    deps,
    {
      releaseDir: releaseDir(store.paths, release),
      ...(switchedAt !== undefined ? { since: switchedAt } : {}),
    },
    run.report.pm2 === 'restarted' ? known : undefined,
  );
}

/** The release log's line for a switch: who moved the host from what to what, and how it starts. */
export function switchedEntry(
  run: HostRun,
  release: string,
  sha: string | undefined,
  from: string | undefined,
  target: ReleaseTarget,
  entry: AppEntry,
): ReleaseLogEntry {
  return {
    time: new Date().toISOString(),
    host: run.name,
    release,
    ...(sha ? { sha } : {}),
    outcome: 'switched',
    ...(from ? { from } : {}),
    actor: target.holder.actor,
    runUrl: target.holder.runUrl,
    entry: recordOf(entry),
  };
}

/**
 * The entry a release is started with: the one found when this run prepared it, else the one the
 * release log recorded when it last started, else found in its directory now (a release made before
 * entries were recorded) — never a default guessed from the inputs alone.
 */
export async function entryOf(run: HostRun, release: string, target: ReleaseTarget): Promise<AppEntry> {
  if (release === run.release && run.entry) return run.entry;
  const cached = run.entries?.get(release);
  if (cached) return cached;
  const store = run.store as ReleaseStore;
  const recorded = run.state?.history.get(release)?.entry;
  const entry = recorded
    ? { ...recorded, source: 'as recorded in the release log' }
    : (runningEntry(run, release, store.paths.current) ??
      runningEntry(run, release, releaseDir(store.paths, release)) ??
      (await discoverEntry(
        run.session as SshSession,
        releaseDir(store.paths, release),
        target.pm2.name,
        target.pm2.script,
      )));
  (run.entries ??= new Map()).set(release, entry);
  return entry;
}

/**
 * The entry pm2 runs the current release with, read from its process list before anything changed:
 * from `current` (pm2 in place), or from the release's own directory (a traffic: nginx slot).
 */
function runningEntry(run: HostRun, release: string, current: string): AppEntry | undefined {
  if (release !== run.state?.current) return undefined;
  const p = run.processes?.find((q) => q.execPath?.startsWith(`${current}/`) && q.cwd === current);
  if (!p?.execPath) return undefined;
  return {
    script: p.execPath.slice(current.length + 1),
    nodeArgs: p.nodeArgs,
    args: p.args,
    env: {},
    source: 'as pm2 runs it now',
  };
}

/** The health URL's answer before anything changes, read once per host (it says whether a version is served). */
export async function readBefore(
  run: HostRun,
  target: ReleaseTarget,
  deps: DeployDeps,
): Promise<ProbeRecord> {
  if (run.before) return run.before;
  const early = run.askedEarly;
  run.askedEarly = undefined;
  // Asked before the lease was taken: it stands when it was still being answered under the lease,
  // or when the release `current` names is what answered. Else it is asked again.
  if (early) {
    const pending = !early.answered;
    const probe = await early.probe;
    if (probe && (pending || servedByCurrent(run, probe))) return (run.before = probe);
  }
  run.before = await askHealth(run, target, deps);
  return run.before;
}

const askHealth = (run: HostRun, target: ReleaseTarget, deps: DeployDeps) => {
  const url = healthUrlFor(target.healthUrls, run.index, run.target);
  return probeUrl(
    url,
    0,
    { ...target.health, expectedVersion: undefined, urls: [url] },
    deps.now ?? (() => new Date()),
  );
};

/**
 * The health URL asked while the host is still being reached (a rollback: its answer decides
 * whether the release that serves is marked bad); readBefore takes the answer or asks again.
 */
export function askBeforeEarly(run: HostRun, target: ReleaseTarget, deps: DeployDeps): void {
  const early: NonNullable<HostRun['askedEarly']> = {
    answered: false,
    probe: askHealth(run, target, deps).then(
      (probe) => {
        early.answered = true;
        return probe;
      },
      () => {
        early.answered = true;
        return undefined;
      },
    ),
  };
  run.askedEarly = early;
}

function servedByCurrent(run: HostRun, probe: ProbeRecord): boolean {
  const current = run.state?.current;
  if (!current || !probe.ok || !probe.version) return false;
  const sha = run.state?.releases.find((r) => r.id === current)?.sha;
  return versionMatches(current, probe.version) || (sha !== undefined && versionMatches(sha, probe.version));
}

/** What the health gate asks of the served version (see ReleaseTarget.versionCheck). */
export function versionExpectation(
  target: ReleaseTarget,
  sha: string | undefined,
  before: ProbeRecord | undefined,
): Pick<HealthCriteria, 'expectedVersion' | 'versionCheck'> {
  const expected = target.health.expectedVersion ?? sha;
  if (target.versionCheck === 'off' || !expected)
    return { expectedVersion: undefined, versionCheck: undefined };
  const required =
    target.versionCheck === 'require' ||
    target.health.expectedVersion !== undefined ||
    before?.version !== undefined;
  return { expectedVersion: expected, versionCheck: required ? 'require' : 'auto' };
}

/** What pm2 must show after a start: the process online, started after `since`, its cwd inside `releaseDir`. */
export interface RunningProof {
  releaseDir: string;
  /** The host's clock (ms) just before pm2 was asked to start it. */
  since?: number;
}

/**
 * Proves what pm2 now runs on one host: its health URL answers healthy (serving `sha` as
 * versionCheck asks), pm2's processes of the app are online, started after the switch and run in
 * the release's directory (`/proc/<pid>/cwd`) — the proof that needs nothing from the app — then
 * pm2's restart count stays put over the stabilization window. Throws when not. `restartedFrom`: pm2's
 * list from before an in-place restart, whose pid files then say what runs (processesAfterRestart).
 * The list read here becomes `run.processes`, what the host runs now.
 */
export async function verifyRunning(
  run: HostRun,
  session: SshSession,
  sha: string | undefined,
  target: ReleaseTarget,
  deps: DeployDeps,
  proof?: RunningProof,
  restartedFrom?: Pm2Process[],
): Promise<HealthReport> {
  const health = await verifyHealth(
    {
      ...target.health,
      urls: [healthUrlFor(target.healthUrls, run.index, run.target)],
      ...versionExpectation(target, sha, run.before),
    },
    {
      log: deps.log,
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      ...(deps.signal ? { signal: deps.signal } : {}),
    },
  );
  if (!health.healthy) throw new HealthGateFailed(health, target.pm2.name);
  if (target.smokeRequests.length > 0) await smokeGate(run, target);
  // The baseline is read once the app answers: a pm2 CLI start costs a core for ~0.3 s, which must
  // not compete with the app's own start-up. A crash loop keeps restarting, so the window still sees it.
  const processes = await processesAfterRestart(session, target.pm2.name, restartedFrom);
  if (proof) await proveRunning(session, target.pm2.name, processes, proof);
  if (target.stabilizationMs > 0)
    await checkStable(session, target.pm2.name, processes, target.stabilizationMs, deps.sleep ?? realSleep);
  run.processes = processes;
  return health;
}

export async function proveRunning(
  session: SshSession,
  name: string,
  processes: Pm2Process[],
  proof: RunningProof,
): Promise<void> {
  const mine = processes.filter((p) => p.name === name);
  const logs = `read \`pm2 logs ${name} --err --lines 100\` on ${session.name}`;
  if (mine.length === 0)
    throw new OperationError(
      `${session.name}: pm2 runs no process named ${name} after the start.`,
      `${logs}.`,
    );
  const down = mine.filter((p) => p.status !== 'online' || !(p.pid > 0));
  if (down.length > 0)
    throw new OperationError(
      `${session.name}: ${name} is ${down.map((p) => `${p.status} (pm2 id ${p.pmId})`).join(', ')} in pm2, though its health URL answered: something else answers there.`,
      `${logs}; check that no other process holds the app's port (\`ss -ltnp\`).`,
    );
  const since = proof.since;
  const stale =
    since === undefined ? [] : mine.filter((p) => p.startedAt !== undefined && p.startedAt < since);
  if (stale.length > 0)
    throw new OperationError(
      `${session.name}: ${name} (pm2 id ${stale.map((p) => p.pmId).join(', ')}) was started at ${new Date(stale[0]?.startedAt ?? 0).toISOString()}, before the switch: pm2 did not restart it, so the old code still runs.`,
      `${logs}; \`pm2 describe ${name}\` shows its script and cwd.`,
    );
  const { stdout } = await session.run(
    "read the app's working directory",
    sh`readlink -f -- ${proof.releaseDir}; for p in ${mine.map((p) => p.pid)}; do printf '%s\\t%s\\n' "$p" "$(readlink -f /proc/$p/cwd 2>/dev/null)"; done`,
  );
  const [want = proof.releaseDir, ...rows] = stdout.split('\n').filter((l) => l !== '');
  for (const row of rows) {
    const [pid, cwd = ''] = row.split('\t');
    if (cwd !== want && !cwd.startsWith(`${want}/`))
      throw new OperationError(
        `${session.name}: ${name}'s process ${pid} runs in ${cwd || '(unreadable)'}, not in ${want}: the code of another release is what runs.`,
        `pm2 resolves a \`current\` link when it starts an app (pm2#1663): \`pm2 delete ${name}\` and deploy again, so it is started from ${proof.releaseDir.replace(/\/releases\/[^/]+$/, '/current')}.`,
      );
  }
}

/** The smoke requests, once /health passes: /health alone does not see a dependency that gave up. */
async function smokeGate(run: HostRun, target: ReleaseTarget): Promise<void> {
  const url = healthUrlFor(target.healthUrls, run.index, run.target);
  const failed = (await runSmokeRequests(url, target.smokeRequests, target.health)).filter((r) => !r.ok);
  if (failed.length > 0)
    throw new OperationError(
      `${run.name}: /health passes but ${failed.length} smoke request${failed.length > 1 ? 's' : ''} failed: ${failed.map((r) => r.failure).join('; ')}.`,
      `read \`pm2 logs ${target.pm2.name} --err --lines 100\` on the host: a core route fails (a dependency unreachable, a missing setting).`,
    );
}

/** Advice for a failed health gate, from what failed. */
function healthAdvice(health: HealthReport, app: string): string {
  const logs = `\`pm2 logs ${app} --err --lines 100\` on the host`;
  switch (health.lastFailure?.failureKind) {
    case 'refused':
      return `nothing answers at the health URL: the app crashed at start or listens on another port — read ${logs}, and check the port it is given (PORT in shared/.env).`;
    case 'version':
      return 'the app answers, but not with the deployed version: serve RELEASE_ID or GIT_SHA (pm2 gives both to the app) as `version` in its /health body, or set version-check: off (pm2 still proves the new process runs in the new release).';
    case 'status':
    case 'body':
      return `the release answers unhealthy (the body above says which part): read ${logs} for the cause, then check the dependency it names.`;
    case 'latency':
      return 'the release answers slower than max-latency: check load and slow queries (action-diagnose).';
    case 'tls':
      return 'the certificate is not trusted or expires soon: renew it (action-ops certificates) or set tls-ca.';
    default:
      return `read ${logs} for why the release does not answer healthy.`;
  }
}

export class HealthGateFailed extends OperationError {
  constructor(
    readonly health: HealthReport,
    app = '<app>',
  ) {
    super(health.failure ?? 'not healthy', healthAdvice(health, app));
  }
}

/**
 * Back to the release that served before, verified; or, on a first deploy, stop the app. Whether
 * the host had switched is read from the host: a connection lost during the switch leaves this run
 * unsure, and the host knows. The failed release is marked bad either way.
 */
export async function restorePrevious(
  run: HostRun,
  target: ReleaseTarget,
  deps: DeployDeps,
  reason: string,
): Promise<void> {
  // The way back is never cancelled: a cancelled run still puts back what it changed.
  const way = uncancellable(deps);
  let attempt = 0;
  await retryAfterConnectionLoss(run, target, way.log, () =>
    restoreOnce(run, target, way, reason, attempt++ === 0),
  );
}

async function restoreOnce(
  run: HostRun,
  target: ReleaseTarget,
  deps: DeployDeps,
  reason: string,
  first: boolean,
): Promise<void> {
  const { log } = deps;
  const { session, store } = await liveStore(run, target, log);
  const release = run.release as string;
  await store
    .markBad(release, reason, target.holder.actor)
    .catch((e) => log.warn(`${run.name}: could not mark ${release} bad: ${errorText(e)}`));
  const now = await store.state();
  // After a drop on the way back, `current` may already name the previous release while pm2 still
  // runs the failed one: that switch is made (and proven) again, never taken as "nothing changed".
  const halfWayBack = !first && run.previous !== undefined && now.current === run.previous;
  if (now.current !== release && !halfWayBack) {
    // The switch never happened (or never reached the host): nothing serving changed.
    run.switched = false;
    run.report.switched = false;
    return;
  }
  run.switched = true;
  run.report.switched = true;
  if (!run.previous) {
    // A failed first deploy leaves the host as it found it: no `current`, and what pm2 ran before
    // (an app started from elsewhere) running again — or nothing, never a crash-looping release.
    await deleteApp(session, target.pm2.name);
    await store.unsetCurrent(release);
    if (await startReplaced(session, store.paths)) {
      log.warn(`${run.name}: first deploy failed: ${target.pm2.name} runs again as pm2 ran it before`);
      const health = await verifyRunning(run, session, undefined, { ...target, versionCheck: 'off' }, deps);
      run.report.rollbackHealth = summary(health);
      run.report.verified = true;
      run.report.firstDeploy = 'ran-before';
    } else {
      run.report.firstDeploy = 'nothing-before';
      log.warn(
        `${run.name}: first deploy failed and nothing ran before it: ${target.pm2.name} is stopped and removed from pm2`,
      );
    }
    run.report.restored = true;
    run.report.outcome = 'rolled-back';
    return;
  }
  const previousSha = run.state?.releases.find((r) => r.id === run.previous)?.sha;
  try {
    const health = await log.group(`${run.name}: back to ${run.previous}`, () =>
      switchAndVerify(run, run.previous as string, previousSha, release, target, deps, undefined, true),
    );
    run.report.rollbackHealth = summary(health);
  } catch (error) {
    if (error instanceof ConnectionLost) throw error;
    run.report.rollbackHealth = {
      healthy: false,
      attempts: error instanceof HealthGateFailed ? error.health.attempts : 0,
      failure: errorText(error),
    };
    const current = await store.state().then(
      (s) => s.current,
      () => undefined,
    );
    run.report.restored = current === run.previous;
    throw new OperationError(
      run.report.restored
        ? `${run.name}: switched back to ${run.previous}, but it does not prove healthy either: ${errorText(error)}`
        : `${run.name}: could not switch back to ${run.previous}: ${errorText(error)}`,
      error instanceof OperationError
        ? `this is an incident: ${error.hint}`
        : 'this is an incident: read `pm2 logs` on the host now.',
    );
  }
  run.report.restored = true;
  run.report.verified = true;
  run.report.outcome = 'rolled-back';
  await store
    .log({
      time: new Date().toISOString(),
      host: run.name,
      release: run.previous,
      outcome: 'rolled-back',
      from: release,
      reason,
      actor: target.holder.actor,
      runUrl: target.holder.runUrl,
    })
    .catch(() => undefined);
}
