/**
 * Deploy: lock → check disk space → upload → unpack into a new release → install → check the entry
 * script → link shared files → (preflight on a spare port) → pre-switch → switch → pm2 start/reload →
 * health gate (the deployed sha must be serving) and a stabilization window (pm2 restart count must
 * not grow) → on failure, back to the previous release, verified too → unlock. Several hosts: all
 * are prepared first, then switched in batches of max-parallel, each batch health-gated before the
 * next; a failure stops the rollout and returns every host already switched to its previous release.
 * What happens on one host is the layout's strategy (deploy-releases.ts, deploy-legacy.ts).
 */
import { OperationError, errorText } from '../errors.js';
import { packArtifact } from './artifact.js';
import { legacyStrategy } from './deploy-legacy.js';
import { releasesStrategy } from './deploy-releases.js';
import { notEnoughSpace } from './disk.js';
import {
  closeHost,
  hostRuns,
  openHosts,
  summary,
  type DeployDeps,
  type HostReport,
  type HostRun,
} from './host-run.js';
import { newReleaseId } from './layout.js';
import { noteLease } from '../fleet/lease.js';
import { CONNECT_PARALLEL } from '../fleet/hosts.js';
import { batchesOf, describeBatches, inParallel } from '../fleet/parallel.js';
import { migrateLegacy } from './legacy.js';
import { ReleaseStore } from './store.js';
import type { DeployOptions, DeployStrategy } from './strategy.js';
import { HealthGateFailed } from './switch-verify.js';
import type { SshSession } from '../ssh/session.js';
import { userCommand } from '../ssh/shell.js';
import { describeOutcome } from './outcome.js';
import { throwIfCancelled } from '../cancel.js';

export type { DeployDeps, HostReport, HostRun, ReleaseTarget } from './host-run.js';
export type { DeployOptions } from './strategy.js';

export interface DeployReport {
  release?: string;
  previousRelease?: string;
  /** Some host was switched back to its previous release (see each host's report for which). */
  rolledBack: boolean;
  hosts: HostReport[];
  plan: string[];
  durationMs: number;
  /** Why the deploy failed; undefined on success. */
  failure?: OperationError;
}

export function planDeploy(options: DeployOptions, strategy: DeployStrategy, runs: HostRun[]): string[] {
  const lines = runs.map((run) => strategy.plan(run));
  if (options.layout === 'legacy') return lines;
  if (options.preSwitchCommand)
    lines.splice(0, 0, `before any switch, on ${runs[0]?.name}: ${options.preSwitchCommand}`);
  lines.push(
    `switch ${describeBatches(runs.length, options)}; on any failure every switched host goes back to its previous release`,
  );
  return lines;
}

export async function deploy(options: DeployOptions, deps: DeployDeps): Promise<DeployReport> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
  const started = now().getTime();
  const runs = hostRuns(options, started);
  const strategy = (options.layout === 'legacy' ? legacyStrategy : releasesStrategy)(options, deps);
  const report: DeployReport = {
    rolledBack: false,
    hosts: runs.map((r) => r.report),
    plan: [],
    durationMs: 0,
  };
  // Packing and measuring the artifact runs beside connecting: neither waits for the other.
  const packing = packArtifact(options.artifact);
  try {
    // 1. Connect, lock and read every host. Nothing has changed if this fails.
    const [opened] = await Promise.allSettled([
      openHosts(runs, options, 'deploy', deps, options.maxParallel),
      packing,
    ]);
    const packed = await packing;
    if (opened.status === 'rejected') throw opened.reason;
    throwIfCancelled(deps.signal);
    await checkLayouts(runs, options, deps);
    for (const run of runs) {
      const short =
        run.state?.freeBytes !== undefined &&
        notEnoughSpace(run.name, options.appDir, packed, run.state.freeBytes);
      if (short) throw short;
    }
    for (const run of runs) {
      run.previous = options.layout === 'legacy' ? undefined : run.state?.current;
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
    report.plan = planDeploy(options, strategy, runs);
    await log.group('Plan', async () => report.plan.forEach((line) => log.info(line)));
    if (options.dryRun) {
      runs.forEach((run) => (run.report.outcome = 'planned'));
      return report;
    }

    // 2. Prepare every host: nothing serving changes yet. The lease names the release, so a run
    // that finds this one dead can mark it abandoned.
    const ready = packed;
    const prepared = await inParallel(runs, Math.max(options.maxParallel, CONNECT_PARALLEL), async (run) => {
      const lease = run.lease;
      if (lease) lease.release = run.release;
      // Before the upload, not beside it: an install that fills the disk must be reported as that (and
      // cleaned up), not as this small write failing on the same full disk a moment later. The note is
      // for whoever finds this lease dead; a deploy does not fail for want of it.
      if (lease)
        await noteLease(run.session as SshSession, (run.store as ReleaseStore).paths, lease).catch(
          (error: unknown) =>
            log.warn(`${run.name}: could not note the release in the deploy lock (${errorText(error)})`),
        );
      await log.group(`${run.name}: prepare ${run.release}`, () => strategy.prepare(run, ready));
    });
    const prepareFailure =
      (prepared.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined) ??
      (deps.signal?.aborted ? { status: 'rejected' as const, reason: deps.signal.reason } : undefined);
    if (prepareFailure) {
      await abandonAll(runs, strategy, `preparing the release failed: ${errorText(prepareFailure.reason)}`);
      throw prepareFailure.reason;
    }

    // 3. Pre-switch (migrations) once, on the first host, before anything switches.
    if (options.preSwitchCommand) {
      const first = runs[0] as HostRun;
      try {
        await log.group(`${first.name}: pre-switch`, () =>
          (first.session as SshSession).run(
            'pre-switch command',
            userCommand(strategy.preSwitchDir(first), options.preSwitchCommand as string),
            { timeoutMs: options.installTimeoutMs },
          ),
        );
      } catch (error) {
        await abandonAll(runs, strategy, `pre-switch command failed: ${errorText(error)}`);
        throw error;
      }
    }

    // 4. Switch the canary alone, then in batches; every batch must prove healthy before the next starts.
    let failure: { run: HostRun; error: unknown } | undefined;
    for (const batch of batchesOf(runs, options)) {
      if (failure) break;
      if (deps.signal?.aborted) {
        failure = { run: batch[0] as HostRun, error: deps.signal.reason };
        break;
      }
      const results = await Promise.allSettled(
        batch.map((run) =>
          log.group(`${run.name}: switch to ${run.release}`, async () => {
            const health = await strategy.switchAndVerify(run);
            run.switched = true;
            run.report.switched = true;
            run.report.verified = true;
            run.report.health = summary(health);
          }),
        ),
      );
      results.forEach((result, j) => {
        const run = batch[j] as HostRun;
        if (result.status === 'rejected') {
          run.report.verified = false;
          run.report.outcome = 'failed';
          run.report.error = errorText(result.reason);
          if (result.reason instanceof HealthGateFailed) run.report.health = summary(result.reason.health);
          failure ??= { run, error: result.reason };
        }
      });
    }

    if (failure) {
      const reason = deps.signal?.aborted
        ? `deploy of ${options.sha} ${errorText(deps.signal.reason)} while switching`
        : `deploy of ${options.sha} failed on ${failure.run.name}: ${errorText(failure.error).replace(/\.$/, '')}`;
      // Every host, switched or not as far as this run knows: a lost connection leaves it unsure.
      const restored = await Promise.allSettled(
        runs.map((run) =>
          run.report.outcome === 'failed' || run.switched
            ? strategy.restore(run, reason)
            : strategy.abandon(run, reason),
        ),
      );
      restored.forEach((result, i) => {
        const run = runs[i] as HostRun;
        if (result.status === 'rejected') {
          run.report.error = [run.report.error, `restore: ${errorText(result.reason)}`]
            .filter(Boolean)
            .join('; ');
          if (!run.report.reachable) run.report.outcome = 'unreachable';
        }
      });
      report.rolledBack = runs.some((run) => run.report.restored);
      report.failure = describeOutcome(runs, reason, options, failure.run.release);
    } else {
      // 5. Success: record it and prune old releases, never the current or previous one.
      await Promise.all(
        runs.map(async (run) => {
          run.report.outcome = 'deployed';
          await strategy.finish(run);
        }),
      );
    }
    return report;
  } catch (error) {
    if (error instanceof OperationError && !report.failure) report.failure = error;
    else if (!report.failure) throw error;
    return report;
  } finally {
    await packing.then((p) => p.cleanup()).catch(() => undefined);
    await Promise.all(runs.map((run) => closeHost(run, options, log)));
    for (const run of runs) run.report.durationMs = now().getTime() - run.started;
    report.durationMs = now().getTime() - started;
  }
}

/** Refuses a layout the options do not fit; converts legacy hosts when asked. */
async function checkLayouts(runs: HostRun[], options: DeployOptions, deps: DeployDeps): Promise<void> {
  const { log } = deps;
  const now = deps.now ?? (() => new Date());
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
  for (const run of legacy) {
    if (options.dryRun) {
      log.info(`${run.name}: would migrate ${options.appDir} from the legacy layout to releases/ first`);
      continue;
    }
    await migrateLegacy(run.session as SshSession, options, log, now());
    run.state = await (run.store as ReleaseStore).state();
  }
}

/** Releases prepared but never switched to: marked abandoned, so a later rollback never picks them. */
async function abandonAll(runs: HostRun[], strategy: DeployStrategy, reason: string): Promise<void> {
  await Promise.allSettled(runs.map((run) => strategy.abandon(run, reason)));
}
