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
import { checkStable, deleteApp, pm2List, restartCount, runCurrentRelease } from './pm2.js';

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
): Promise<HealthReport> {
  const { session, store } = await liveStore(run, target, deps.log);
  const first =
    markFromBad && from ? store.markBadCommand(from, markFromBad, target.holder.actor) : undefined;
  await store.switchTo(
    release,
    {
      time: new Date().toISOString(),
      host: run.name,
      release,
      ...(sha ? { sha } : {}),
      outcome: 'switched',
      ...(from ? { from } : {}),
      actor: target.holder.actor,
      runUrl: target.holder.runUrl,
    },
    first,
  );
  run.switched = true;
  run.report.switched = true;
  const env: Record<string, string> = { RELEASE_ID: release, ...(sha ? { GIT_SHA: sha } : {}) };
  const known = run.processes;
  run.processes = undefined;
  run.report.pm2 = await runCurrentRelease(session, store.paths, target.pm2, env, known);
  return verifyRunning(run, session, sha, target, deps);
}

/**
 * Proves what pm2 now runs on one host: its health URL answers healthy with `sha` serving (when
 * known), then pm2's restart count stays put over the stabilization window. Throws when not.
 */
export async function verifyRunning(
  run: HostRun,
  session: SshSession,
  sha: string | undefined,
  target: ReleaseTarget,
  deps: DeployDeps,
): Promise<HealthReport> {
  const health = await verifyHealth(
    {
      ...target.health,
      urls: [healthUrlFor(target.healthUrls, run.index, run.target)],
      ...(sha ? { expectedVersion: sha } : {}),
    },
    {
      log: deps.log,
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      ...(deps.signal ? { signal: deps.signal } : {}),
    },
  );
  if (!health.healthy) throw new HealthGateFailed(health);
  if (target.stabilizationMs > 0) {
    // The baseline is read once the app answers: a pm2 CLI start costs a core for ~0.3 s, which must
    // not compete with the app's own start-up. A crash loop keeps restarting, so the window still sees it.
    const baseline = restartCount(await pm2List(session), target.pm2.name);
    await checkStable(session, target.pm2.name, baseline, target.stabilizationMs, deps.sleep ?? realSleep);
  }
  return health;
}

export class HealthGateFailed extends OperationError {
  constructor(readonly health: HealthReport) {
    super(
      health.failure ?? 'not healthy',
      'read `pm2 logs` on the host for why the release does not answer healthy.',
    );
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
    log.warn(
      `${run.name}: first deploy failed and there is no previous release: stopping ${target.pm2.name}`,
    );
    await deleteApp(session, target.pm2.name);
    run.report.restored = true;
    run.report.outcome = 'rolled-back';
    return;
  }
  const previousSha = run.state?.releases.find((r) => r.id === run.previous)?.sha;
  try {
    const health = await log.group(`${run.name}: back to ${run.previous}`, () =>
      switchAndVerify(run, run.previous as string, previousSha, release, target, deps),
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
      'this is an incident: check the database, Redis and `pm2 logs` on the host now.',
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
