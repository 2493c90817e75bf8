/**
 * What a deploy does on one host, as four verbs that the orchestration in deploy.ts calls in
 * order: prepare the new code beside the running one, switch to it and prove it, restore the
 * previous code when the rollout fails, and finish when every host proved healthy. One
 * implementation per layout: releases/ + current, and the runbook's legacy directories.
 */
import type { HealthReport } from '../health/verify.js';
import type { PackedArtifact } from './artifact.js';
import type { BatchPlan } from '../fleet/parallel.js';
import type { DeployDeps, HostRun, ReleaseTarget } from './host-run.js';

export interface DeployOptions extends BatchPlan, ReleaseTarget {
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
  /** Start the new release on a spare port and prove it healthy there before the switch. */
  preflight?: { portEnv: string };
  /** Migration files applied for this release (action-db-migrate's `applied`): its release log line keeps them. */
  migrations: string[];
  dryRun: boolean;
}

export interface DeployStrategy {
  /** One line per host saying what will happen there. */
  plan(run: HostRun): string;
  /** The new code on the host, installed and checked; nothing serving changes. */
  prepare(run: HostRun, packed: PackedArtifact): Promise<void>;
  /** The directory the pre-switch command runs in. */
  preSwitchDir(run: HostRun): string;
  /** Serve the new code and prove it. */
  switchAndVerify(run: HostRun): Promise<HealthReport>;
  /** Back to what served before, verified; the failed release is marked bad. */
  restore(run: HostRun, reason: string): Promise<void>;
  /** A prepared release that will never be switched to. */
  abandon(run: HostRun, reason: string): Promise<void>;
  /** Every host is healthy: record it and tidy up. */
  finish(run: HostRun): Promise<void>;
}

export type StrategyFactory = (options: DeployOptions, deps: DeployDeps) => DeployStrategy;

export type { ReleaseTarget };
