/**
 * Rollback: back to the previous good release (skipping releases marked bad) or to a named one,
 * on every host. Every host is checked before any changes: with no release to go back to, or a
 * named release missing or marked bad, it refuses and nothing changes anywhere. The abandoned
 * release is marked bad; the target is verified with its own sha serving.
 */
import {
  decideSchema,
  rollBackSchema,
  type SchemaRollbackOptions,
  type SchemaRollbackReport,
} from './schema-rollback.js';
import { ConfigurationError, OperationError, errorText } from '../errors.js';
import {
  closeHost,
  hostRuns,
  openHosts,
  type DeployDeps,
  type HostReport,
  type HostRun,
  type ReleaseTarget,
} from './host-run.js';
import {
  HealthGateFailed,
  entryOf,
  proveRunning,
  askBeforeEarly,
  readBefore,
  switchAndVerify,
  verifyRunning,
} from './switch-verify.js';
import { describeEntry, startProblems } from './entry.js';
import { releaseDir } from './layout.js';
import { pm2List, runCurrentRelease } from './pm2.js';
import { idleSlotRuns, restartLiveInSlot } from './slots.js';
import { previousGood, type ReleaseStore } from './store.js';
import { legacyPrevious, noLegacyPrevious, readLegacyState, restartLegacy, swapLegacy } from './legacy.js';
import type { SshSession } from '../ssh/session.js';
import type { Log } from '../log.js';
import { throwIfCancelled, uncancellable } from '../cancel.js';
import { batchesOf, inParallel, throwFirstRejection, type BatchPlan } from '../fleet/parallel.js';
import { CONNECT_PARALLEL } from '../fleet/hosts.js';

export interface RollbackOptions extends ReleaseTarget, BatchPlan {
  /** A release id to go back to; undefined for the previous good release. */
  release?: string;
  /** `legacy`: the runbook's <app-dir> + <app-dir>-previous instead of releases/. */
  layout: 'releases' | 'legacy';
  /** The migrations applied for newer releases: refused, or rolled back first. */
  schema: SchemaRollbackOptions;
  dryRun: boolean;
}

export interface RollbackReport {
  release?: string;
  fromRelease?: string;
  hosts: HostReport[];
  plan: string[];
  /** Migrations rolled back before the code (rollback-migrations: true). */
  schema?: SchemaRollbackReport;
  durationMs: number;
  failure?: OperationError;
}

export async function rollback(options: RollbackOptions, deps: DeployDeps): Promise<RollbackReport> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const started = now().getTime();
  const runs = hostRuns(options, started);
  const report: RollbackReport = { hosts: runs.map((r) => r.report), plan: [], durationMs: 0 };
  try {
    if (options.layout === 'releases') for (const run of runs) askBeforeEarly(run, options, deps);
    await openHosts(runs, options, 'rollback', deps, options.maxParallel);
    throwIfCancelled(deps.signal);

    // Decide every host before touching any: the target must be able to start, and what serves
    // now is read (is it healthy? does it serve a version?) so that the way back knows it. Only
    // reads, so the hosts are asked side by side, as many at once as they were opened.
    throwFirstRejection(
      await inParallel(runs, Math.max(CONNECT_PARALLEL, options.maxParallel), async (run) => {
        if (options.layout === 'legacy') await decideLegacy(run, options);
        else {
          decideReleases(run, options, log);
          await checkTarget(run, options, deps);
        }
        run.report.release = run.release;
        run.report.previousRelease = run.previous;
      }),
    );
    report.release = runs[0]?.release;
    report.fromRelease = runs[0]?.previous;
    // The code's schema: refused here, touching nothing, when the target is older than a migration.
    const schema = options.layout === 'releases' ? await decideSchema(runs, options.schema, log) : undefined;
    report.plan = runs.map((run) => {
      if (options.layout === 'legacy') {
        return `${run.name}: move ${options.appDir} aside to ${options.appDir}-broken-<time> and ${run.release} into its place (one command), pm2 restart ${options.pm2.name}, verify health`;
      }
      const entry = run.entries?.get(run.release as string);
      const startWith = entry ? describeEntry(entry) : 'its entry';
      if (run.release === run.previous)
        return run.alreadyServing
          ? `${run.name}: already on ${run.release}, online and healthy; nothing to do`
          : `${run.name}: already on ${run.release}, but it is not serving healthy (${run.before?.failure ?? 'pm2 does not run it from there'}): start it with ${startWith} and verify`;
      const sha = run.state?.releases.find((r) => r.id === run.release)?.sha ?? run.release;
      const gone = run.state?.currentMissing
        ? ` (its directory is gone; the bad mark goes to the release log)`
        : '';
      const mark =
        run.before?.ok && !run.state?.currentMissing
          ? `${run.previous} answers healthy, so it is not marked bad`
          : `mark ${run.previous} bad (its health: ${run.before?.failure ?? 'unknown'})`;
      return `${run.name}: switch current from ${run.previous}${gone} to ${run.release}, ${mark}, pm2 start it with ${startWith}, verify health and that pm2 runs it from its directory (serving ${sha} if a version is served); if it fails, ${run.previous} is put back and started again`;
    });
    if (schema?.migrations.length)
      report.plan.unshift(
        `database: roll back ${schema.migrations.map((m) => m.file).join(', ')} (newest first, each with its _rollback.sql, gated on the backup), then switch the code`,
      );
    await log.group('Plan', async () => report.plan.forEach((line) => log.info(line)));
    if (options.dryRun) {
      runs.forEach((run) => (run.report.outcome = 'planned'));
      return report;
    }

    if (schema?.migrations.length)
      report.schema = await log.group('database: migrations back first', () =>
        rollBackSchema(schema, options.schema, deps),
      );
    const failures: string[] = [];
    let failureHint = 'read `pm2 logs` on the host now.';
    // The canary alone first, then batches: a cancelled rollback stops between batches; a switch
    // under way is finished and verified.
    for (const hosts of batchesOf(
      runs.filter((run) => !run.alreadyServing),
      options,
    )) {
      throwIfCancelled(deps.signal);
      const batch = hosts;
      await Promise.all(
        batch.map((run) =>
          log.group(`${run.name}: back to ${run.release}`, async () => {
            try {
              if (options.layout === 'legacy') await actLegacy(run, options, deps);
              else await actReleases(run, options, deps);
              run.report.outcome = 'rolled-back';
            } catch (error) {
              run.report.outcome = 'failed';
              run.report.error ??= errorText(error);
              if (error instanceof OperationError) failureHint = error.hint;
              if (error instanceof HealthGateFailed)
                run.report.health = {
                  healthy: false,
                  attempts: error.health.attempts,
                  failure: error.health.failure,
                };
              failures.push(`${run.name}: ${run.report.error ?? errorText(error)}`);
            }
          }),
        ),
      );
      if (failures.length > 0) break;
    }
    if (failures.length > 0) {
      // Put back healthy where it was healthy before: production is as the rollback found it.
      const asFound = runs.every(
        (run) => run.report.outcome !== 'failed' || (run.report.restored && run.before?.ok),
      );
      report.failure = new OperationError(
        `Rollback to ${report.release} did not verify: ${failures.join('; ')}`,
        asFound
          ? `production serves as before the rollback; the target does not come up: ${failureHint}`
          : `this is an incident: ${failureHint}`,
      );
    }
    return report;
  } catch (error) {
    if (error instanceof OperationError) {
      report.failure = error;
      return report;
    }
    throw error;
  } finally {
    await Promise.all(runs.map((run) => closeHost(run, options, log)));
    for (const run of runs) run.report.durationMs = now().getTime() - run.started;
    report.durationMs = now().getTime() - started;
  }
}

function decideReleases(run: HostRun, options: RollbackOptions, log: Log): void {
  const state = run.state;
  if (!state || state.layout !== 'releases' || !state.current) {
    throw new OperationError(
      `${run.name}: ${options.appDir} has no current release to roll back from (${state?.layout === 'legacy' ? 'it holds the legacy layout: use layout: legacy' : 'nothing deployed'}). Nothing was changed.`,
      'check app-dir and hosts.',
    );
  }
  const target = options.release ? state.releases.find((r) => r.id === options.release) : previousGood(state);
  if (options.release && !target) {
    throw new ConfigurationError(
      'release',
      `${options.release} does not exist on ${run.name}; it has ${state.releases.map((r) => r.id).join(', ')}.`,
    );
  }
  if (!target) {
    throw new OperationError(
      `${run.name}: there is no previous good release to roll back to (current ${state.current}; ${state.releases.length - 1} other release(s), all marked bad or newer). Nothing was changed.`,
      'deploy a fixed release instead, or name one with `release:` after clearing its BAD_RELEASE file on purpose.',
    );
  }
  if (target.bad) {
    throw new ConfigurationError(
      'release',
      `${target.id} on ${run.name} is marked bad (BAD_RELEASE or the release log); remove that file on the host first if you really mean to go back to it.`,
    );
  }
  if (!target.live && target.known) {
    throw new ConfigurationError(
      'release',
      `${target.id} on ${run.name} never went live (the release log has no record of it serving and passing its health check: a deploy cut off before its switch?); it is not a rollback target.`,
    );
  }
  if (!target.live) {
    log.warn(
      `${run.name}: the release log has no record of ${target.id} (made before this suite deployed here?); going back to it because it was named`,
    );
  }
  run.release = target.id;
  run.previous = state.current;
}

async function decideLegacy(run: HostRun, options: RollbackOptions): Promise<void> {
  if (options.release)
    throw new ConfigurationError(
      'release',
      'cannot name a release with layout: legacy, which keeps only <app-dir>-previous.',
    );
  const state = await readLegacyState(run.session as SshSession, options.appDir);
  if (!state.app || !state.previous) throw noLegacyPrevious(run.name, options.appDir);
  run.release = legacyPrevious(options.appDir);
  run.previous = options.appDir;
}

/**
 * What the target needs to start is checked before pm2 is touched (directory, entry, dependencies,
 * linked files); the health of what serves now decides whether it is marked bad; a host already on
 * the target counts as done only when pm2 runs it from there and it answers healthy.
 */
async function checkTarget(run: HostRun, options: RollbackOptions, deps: DeployDeps): Promise<void> {
  const session = run.session as SshSession;
  const store = run.store as ReleaseStore;
  const target = run.release as string;
  const entry = await entryOf(run, target, options);
  // Both only read: the host's files over SSH, the live release's health over HTTP, side by side.
  // A release that runs in nginx's idle slot can start: only the traffic will move to it.
  const [checked, probed] = await Promise.allSettled([
    idleSlotRuns(run, options, target).then((runs) =>
      runs ? [] : startProblems(session, releaseDir(store.paths, target), entry),
    ),
    readBefore(run, options, deps),
  ]);
  if (checked.status === 'rejected') throw checked.reason;
  const problems = checked.value;
  if (problems.length > 0)
    throw new OperationError(
      `${run.name}: ${target} cannot be started: ${problems.join('; ')}. Nothing was changed.`,
      'name another release with `release:`, or deploy a fixed one; a release whose dependencies are missing needs its install run again.',
    );
  if (probed.status === 'rejected') throw probed.reason;
  if (run.previous && run.previous !== target && !run.state?.currentMissing)
    await entryOf(run, run.previous, options).catch(() => undefined);
  if (target === run.previous && run.before?.ok) {
    const processes = run.processes ?? (await pm2List(session));
    run.alreadyServing = await proveRunning(session, options.pm2.name, processes, {
      releaseDir: releaseDir(store.paths, target),
    }).then(
      () => true,
      () => false,
    );
  }
}

async function actReleases(run: HostRun, options: RollbackOptions, deps: DeployDeps): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const calm = uncancellable(deps);
  const target = run.release as string;
  const from = run.previous as string;
  // Marked bad only when its own health is why we leave it (and then in the same command as the
  // switch, so that a later rollback skips it even if this one stops midway).
  const by = `rolled back to ${target}${options.holder.actor ? ` by ${options.holder.actor}` : ''}`;
  const reason = run.state?.currentMissing
    ? `${by}: its directory is gone`
    : run.before?.ok
      ? undefined
      : `${by}: it did not answer healthy (${run.before?.failure ?? 'no answer'})`;
  const sha = run.state?.releases.find((r) => r.id === target)?.sha;
  let verified = false;
  try {
    const health =
      target === from
        ? await restartInPlace(run, options, calm, sha)
        : await switchAndVerify(run, target, sha, from, options, calm, reason);
    run.report.health = { healthy: true, attempts: health.attempts };
    verified = true;
    run.report.verified = true;
  } catch (error) {
    if (target !== from && !run.state?.currentMissing) await putBack(run, options, calm, error);
    throw error;
  } finally {
    // The store the switch ended on: a lost connection may have been replaced by a new one.
    await (run.store as ReleaseStore)
      .log({
        time: now().toISOString(),
        host: run.name,
        release: target,
        sha,
        outcome: 'rollback',
        verified,
        from,
        ...(reason ? { reason } : {}),
        actor: options.holder.actor,
        runUrl: options.holder.runUrl,
      })
      .catch(() => undefined);
  }
}

/** The host is on the target already, but it does not serve: start it from there and verify. */
async function restartInPlace(
  run: HostRun,
  options: RollbackOptions,
  deps: DeployDeps,
  sha: string | undefined,
): Promise<Awaited<ReturnType<typeof verifyRunning>>> {
  const session = run.session as SshSession;
  const store = run.store as ReleaseStore;
  const release = run.release as string;
  // Started afresh in the other slot, then the traffic moved: the one that does not serve is left.
  if (options.traffic) return restartLiveInSlot(run, options, deps, { fresh: true });
  run.report.pm2 = await runCurrentRelease(
    session,
    store.paths,
    options.pm2,
    await entryOf(run, release, options),
    { RELEASE_ID: release, ...(sha ? { GIT_SHA: sha } : {}) },
  );
  return verifyRunning(run, session, sha, options, deps, { releaseDir: releaseDir(store.paths, release) });
}

/**
 * A rollback that failed puts back the release that was serving, started and proven as well as it
 * can be: healthy when it answered healthy before, running from its directory either way.
 */
async function putBack(
  run: HostRun,
  options: RollbackOptions,
  deps: DeployDeps,
  cause: unknown,
): Promise<void> {
  const from = run.previous as string;
  const sha = run.state?.releases.find((r) => r.id === from)?.sha;
  deps.log.warn(`${run.name}: the rollback did not verify (${errorText(cause)}); putting ${from} back`);
  try {
    await deps.log.group(`${run.name}: put ${from} back`, () =>
      switchAndVerify(run, from, sha, run.release, options, deps),
    );
    run.report.restored = true;
    run.report.error = `the rollback to ${run.release} failed, ${from} was put back and verified healthy: ${errorText(cause)}`;
  } catch (error) {
    const runningAgain = error instanceof HealthGateFailed && !run.before?.ok;
    run.report.restored = runningAgain;
    run.report.error = runningAgain
      ? `the rollback to ${run.release} failed; ${from} was put back and runs again, unhealthy as it was before: ${errorText(cause)}`
      : `the rollback to ${run.release} failed, and putting ${from} back failed too: ${errorText(error)}`;
  }
}

async function actLegacy(run: HostRun, options: RollbackOptions, deps: DeployDeps): Promise<void> {
  const session = run.session as SshSession;
  const now = deps.now ?? (() => new Date());
  const broken = await swapLegacy(session, options.appDir, now());
  run.switched = true;
  run.report.switched = true;
  run.report.previousRelease = broken;
  await restartLegacy(session, options.pm2.name, {});
  const health = await verifyRunning(run, session, undefined, options, deps);
  run.report.health = { healthy: true, attempts: health.attempts };
  run.report.verified = true;
}
