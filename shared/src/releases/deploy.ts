/**
 * Deploy: lock → upload → unpack into a new release → install → link shared files → pre-switch →
 * switch → pm2 start/reload → health gate (the deployed sha must be serving) and a stabilization
 * window (pm2 restart count must not grow) → on failure, back to the previous release, verified
 * too → unlock. Several hosts: all are prepared first, then switched in batches of max-parallel,
 * each batch health-gated before the next; a failure stops the rollout and returns every host
 * already switched to its previous release.
 */
import { OperationError, errorText } from '../errors.js';
import type { HealthReport } from '../health/verify.js';
import type { SshSession } from '../ssh/session.js';
import { userCommand } from '../ssh/shell.js';
import { packArtifact } from './artifact.js';
import { healthUrlFor } from './host-url.js';
import {
  closeHost,
  forEachBatch,
  hostRuns,
  openHost,
  summary,
  type DeployDeps,
  type HostReport,
  type HostRun,
  type ReleaseTarget,
} from './host-run.js';
import { appPaths, newReleaseId, releaseDir } from './layout.js';
import {
  legacyPrevious,
  migrateLegacy,
  prepareLegacy,
  readLegacyState,
  restartLegacy,
  swapLegacy,
  switchLegacy,
} from './legacy.js';
import { deleteApp } from './pm2.js';
import { ReleaseStore } from './store.js';
import { HealthGateFailed, restorePrevious, switchAndVerify, verifyRunning } from './switch-verify.js';

export type { DeployDeps, HostReport, HostRun, ReleaseTarget } from './host-run.js';

export interface DeployOptions extends ReleaseTarget {
  artifact: string;
  sha: string;
  installCommand?: string;
  installTimeoutMs: number;
  preSwitchCommand?: string;
  linkedFiles: string[];
  linkedDirs: string[];
  keepReleases: number;
  /** Convert hosts still on the runbook's legacy layout into releases/ first. */
  migrateLegacy: boolean;
  /** `legacy`: deploy the runbook's way (<app-dir>, <app-dir>-previous), health-gated and rolled back on failure. */
  layout: 'releases' | 'legacy';
  maxParallel: number;
  dryRun: boolean;
}

export interface DeployReport {
  release?: string;
  previousRelease?: string;
  rolledBack: boolean;
  hosts: HostReport[];
  plan: string[];
  durationMs: number;
  /** Why the deploy failed; undefined on success. */
  failure?: OperationError;
}

export function planDeploy(options: DeployOptions, runs: HostRun[]): string[] {
  const lines: string[] = [];
  if (options.layout === 'legacy') {
    for (const run of runs) {
      lines.push(
        `${run.name}: unpack ${options.artifact} into ${options.appDir}-next-${run.release}, copy ${[...options.linkedFiles, ...options.linkedDirs].join(', ') || 'nothing'} from ${options.appDir}` +
          `${options.installCommand ? `; install (${options.installCommand})` : ''}; remove ${options.appDir}-previous; move ${options.appDir} to -previous and the new code into place; pm2 restart ${options.pm2.name}` +
          `; verify ${healthUrlFor(options.healthUrls, run.index, run.target).href} serves ${options.sha}; on failure move it aside and -previous back`,
      );
    }
    return lines;
  }
  for (const run of runs) {
    const previous = run.state?.current ?? '(none: first deploy)';
    lines.push(
      `${run.name}: upload ${options.artifact} → ${releaseDir(appPaths(options.appDir), run.release ?? '?')}` +
        `${options.installCommand ? `; install (${options.installCommand})` : ''}; link ${[...options.linkedFiles, ...options.linkedDirs].join(', ') || 'nothing'}` +
        `; switch current from ${previous} to ${run.release}; pm2 ${run.state?.current ? 'reload/restart' : 'start'} ${options.pm2.name}` +
        `; verify ${healthUrlFor(options.healthUrls, run.index, run.target).href} serves ${options.sha}; keep ${options.keepReleases} releases`,
    );
  }
  if (options.preSwitchCommand)
    lines.splice(0, 0, `before any switch, on ${runs[0]?.name}: ${options.preSwitchCommand}`);
  lines.push(
    `switch in batches of ${options.maxParallel}; on any failure every switched host goes back to its previous release`,
  );
  return lines;
}

export async function deploy(options: DeployOptions, deps: DeployDeps): Promise<DeployReport> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const started = now().getTime();
  const runs = hostRuns(options.hosts, started);
  const report: DeployReport = {
    rolledBack: false,
    hosts: runs.map((r) => r.report),
    plan: [],
    durationMs: 0,
  };
  const packed = await packArtifact(options.artifact);
  try {
    // 1. Connect, lock and read every host. Nothing has changed if this fails.
    const opened = await forEachBatch(runs, Math.max(options.maxParallel, 8), (run) =>
      openHost(run, options, log, now),
    );
    const openFailure = opened.find((r) => r.status === 'rejected');
    if (openFailure) throw (openFailure as PromiseRejectedResult).reason;
    const wrong =
      options.layout === 'legacy' ? runs.find((run) => run.state?.layout === 'releases') : undefined;
    if (wrong) {
      throw new OperationError(
        `${wrong.name}: ${options.appDir} holds the releases/ layout, but layout: legacy was asked. Nothing was changed.`,
        'use layout: releases (the default) for this host.',
      );
    }
    const legacy = options.layout === 'legacy' ? [] : runs.filter((run) => run.state?.layout === 'legacy');
    if (legacy.length > 0 && !options.migrateLegacy) {
      throw new OperationError(
        `${legacy.map((r) => r.name).join(', ')}: ${options.appDir} holds the runbook's legacy layout (code directly in the app directory), not releases/ + current. Nothing was changed.`,
        'convert it once with `migrate-legacy: true` on this action (the running app keeps serving; the old directory is kept), or roll back with action-rollback `layout: legacy`.',
      );
    }
    if (legacy.length > 0 && options.dryRun) {
      legacy.forEach((run) =>
        log.info(`${run.name}: would migrate ${options.appDir} from the legacy layout to releases/ first`),
      );
    } else {
      for (const run of legacy) {
        await migrateLegacy(run.session as SshSession, options, log, now());
        run.state = await (run.store as ReleaseStore).state();
      }
    }
    for (const run of runs) {
      run.previous = run.state?.current;
      run.release = newReleaseId(
        options.sha,
        now(),
        run.state?.releases.map((r) => r.id),
      );
      run.report.release = run.release;
      run.report.previousRelease = run.previous;
    }
    report.release = runs[0]?.release;
    report.previousRelease = runs[0]?.previous;
    report.plan = planDeploy(options, runs);
    await log.group('Plan', async () => report.plan.forEach((line) => log.info(line)));
    if (options.dryRun) {
      runs.forEach((run) => (run.report.outcome = 'planned'));
      return report;
    }

    // 2. Prepare every host: nothing serving changes yet.
    const prepared = await forEachBatch(runs, Math.max(options.maxParallel, 8), (run) =>
      log.group(`${run.name}: prepare ${run.release}`, async () => {
        const store = run.store as ReleaseStore;
        const unpack = {
          sha: options.sha,
          tarball: packed.tarball,
          linkedFiles: options.linkedFiles,
          linkedDirs: options.linkedDirs,
        };
        const dir =
          options.layout === 'legacy'
            ? await prepareLegacy(
                run.session as SshSession,
                { ...unpack, appDir: options.appDir },
                run.release as string,
              )
            : await store.prepare({ ...unpack, id: run.release as string });
        run.nextDir = dir;
        if (options.installCommand) {
          await (run.session as SshSession).run('install', userCommand(dir, options.installCommand), {
            timeoutMs: options.installTimeoutMs,
          });
        }
      }),
    );
    const prepareFailure = prepared.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (prepareFailure) {
      await abandon(runs, options, `preparing the release failed: ${errorText(prepareFailure.reason)}`);
      throw prepareFailure.reason;
    }

    // 3. Pre-switch (migrations) once, on the first host, before anything switches.
    if (options.preSwitchCommand) {
      const first = runs[0] as HostRun;
      try {
        await log.group(`${first.name}: pre-switch`, () =>
          (first.session as SshSession).run(
            'pre-switch command',
            userCommand(
              releaseDir((first.store as ReleaseStore).paths, first.release as string),
              options.preSwitchCommand as string,
            ),
            { timeoutMs: options.installTimeoutMs },
          ),
        );
      } catch (error) {
        await abandon(runs, options, `pre-switch command failed: ${errorText(error)}`);
        throw error;
      }
    }

    // 4. Switch in batches; every batch must prove healthy before the next one starts.
    let failure: { run: HostRun; error: unknown } | undefined;
    for (let i = 0; i < runs.length && !failure; i += options.maxParallel) {
      const batch = runs.slice(i, i + options.maxParallel);
      const results = await Promise.allSettled(
        batch.map((run) =>
          log.group(`${run.name}: switch to ${run.release}`, async () => {
            const health =
              options.layout === 'legacy'
                ? await switchAndVerifyLegacy(run, options, deps)
                : await switchAndVerify(run, run.release as string, options.sha, options, deps);
            run.report.health = summary(health);
          }),
        ),
      );
      results.forEach((result, j) => {
        const run = batch[j] as HostRun;
        if (result.status === 'rejected') {
          run.report.outcome = 'failed';
          run.report.error = errorText(result.reason);
          if (result.reason instanceof HealthGateFailed) run.report.health = summary(result.reason.health);
          failure ??= { run, error: result.reason };
        }
      });
    }

    if (failure) {
      report.rolledBack = true;
      const reason = `deploy of ${options.sha} failed on ${failure.run.name}: ${errorText(failure.error).replace(/\.$/, '')}`;
      const restored = await Promise.allSettled(
        runs.map((run) =>
          options.layout === 'legacy'
            ? restoreLegacy(run, options, deps)
            : restorePrevious(run, options, deps, reason),
        ),
      );
      const broken = restored
        .filter((r) => r.status === 'rejected')
        .map((r) => errorText((r as PromiseRejectedResult).reason));
      const back = runs.filter((r) => r.report.outcome === 'rolled-back');
      const restoredSome = back.some((r) => r.previous);
      const backText = back
        .map((r) => `${r.name} → ${r.previous ?? 'stopped (no previous release)'}`)
        .join(', ');
      const verified = restoredSome && broken.length === 0 ? ', verified healthy' : '';
      report.failure = new OperationError(
        `${reason}. ${back.length > 0 ? `Rolled back: ${backText}${verified}.` : 'No host had switched.'}${broken.length > 0 ? ` ROLLBACK PROBLEMS: ${broken.join('; ')}` : ''}`,
        broken.length > 0
          ? 'this is an incident: a host could not be brought back — act on the rollback problems above now.'
          : `${restoredSome ? 'production is back on the previous release' : 'nothing served before this deploy, and the app is stopped again'}. The failed release ${failure.run.release} is kept and marked BAD_RELEASE for forensics; read \`pm2 logs ${options.pm2.name} --lines 200\` on ${failure.run.name}.`,
      );
    } else {
      // 5. Success: record it and prune old releases, never the current or previous one.
      await Promise.all(
        runs.map(async (run) => {
          run.report.outcome = 'deployed';
          if (options.layout === 'legacy') return;
          const store = run.store as ReleaseStore;
          await store.log({
            time: now().toISOString(),
            host: run.name,
            release: run.release as string,
            sha: options.sha,
            outcome: 'deployed',
            from: run.previous,
            actor: options.holder.actor,
            runUrl: options.holder.runUrl,
          });
          const state = await store.state();
          run.report.pruned = await store.prune(
            state,
            options.keepReleases,
            run.previous ? [run.previous] : [],
          );
        }),
      );
    }
    return report;
  } catch (error) {
    if (error instanceof OperationError && !report.failure) report.failure = error;
    else if (!report.failure) throw error;
    return report;
  } finally {
    packed.cleanup();
    await Promise.all(runs.map((run) => closeHost(run, log)));
    for (const run of runs) run.report.durationMs = now().getTime() - run.started;
    report.durationMs = now().getTime() - started;
  }
}

/** A release prepared but never switched to: kept, marked bad, so a later rollback skips it. */
async function abandon(runs: HostRun[], options: DeployOptions, reason: string): Promise<void> {
  await Promise.allSettled(
    runs.map(async (run) => {
      if (!run.store || !run.release) return;
      await run.store.markBad(run.release, reason, options.holder.actor);
      await run.store.log({
        time: new Date().toISOString(),
        host: run.name,
        release: run.release,
        sha: options.sha,
        outcome: 'abandoned',
        reason,
        actor: options.holder.actor,
        runUrl: options.holder.runUrl,
      });
    }),
  );
}

async function switchAndVerifyLegacy(
  run: HostRun,
  options: DeployOptions,
  deps: DeployDeps,
): Promise<HealthReport> {
  const session = run.session as SshSession;
  run.previous = (await readLegacyState(session, options.appDir)).app
    ? legacyPrevious(options.appDir)
    : undefined;
  run.report.previousRelease = run.previous;
  run.report.pm2 = await switchLegacy(
    session,
    options.appDir,
    run.nextDir as string,
    options.pm2.name,
    options.pm2.script,
    {
      RELEASE_ID: run.release as string,
      GIT_SHA: options.sha,
    },
  );
  run.switched = true;
  return verifyRunning(run, session, options.sha, options, deps);
}

/** The runbook's rollback, verified: the failed code goes to <app-dir>-broken-<time>, -previous back. */
async function restoreLegacy(run: HostRun, options: DeployOptions, deps: DeployDeps): Promise<void> {
  if (!run.switched) return;
  const session = run.session as SshSession;
  if (!run.previous) {
    await deleteApp(session, options.pm2.name);
    run.report.outcome = 'rolled-back';
    return;
  }
  await swapLegacy(session, options.appDir, (deps.now ?? (() => new Date()))());
  await restartLegacy(session, options.pm2.name, {});
  try {
    run.report.rollbackHealth = summary(await verifyRunning(run, session, undefined, options, deps));
  } catch (error) {
    run.report.rollbackHealth = { healthy: false, attempts: 0, failure: errorText(error) };
    throw new OperationError(
      `${run.name}: rolled back to ${run.previous}, but it is not healthy either: ${errorText(error)}`,
      'this is an incident: check the database, Redis and `pm2 logs` on the host now.',
    );
  }
  run.report.outcome = 'rolled-back';
}
