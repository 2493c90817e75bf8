/**
 * How a deploy and a rollback keep GitHub's deployments true (deployments.ts), from their inputs and
 * results: the inputs read (github-token, github-repository, github-api-url, environment), the deploy's
 * deployment started and finished, the rollback's move from one release's deployment to another's.
 */
import type { Inputs } from '../config/inputs.js';
import { errorText } from '../errors.js';
import { readGithubApiUrl, readGithubRepository } from './inputs.js';
import type { Log } from '../log.js';
import type { RunContext, RunResult } from '../result.js';
import type { DeploymentHooks } from '../audit/record.js';
import { readHosts } from '../ssh/inputs.js';
import { describeTarget } from '../ssh/target.js';
import { GithubDeployments, releaseSha, type DeploymentTarget } from './deployments.js';

/** The target, when a token is given and the run changes something (not a join, not a dry run); bad values are ConfigurationErrors. */
export function readDeploymentRecord(
  inputs: Inputs,
  context: RunContext,
  env: NodeJS.ProcessEnv = process.env,
): DeploymentTarget | undefined {
  if (inputs.string('join') || inputs.boolean('dry-run', false)) return undefined;
  const token = inputs.secret('github-token');
  if (!token) return undefined;
  const { owner, repo } = readGithubRepository(inputs, env);
  const apiUrl = readGithubApiUrl(inputs, env);
  const health = inputs.list('health-url')[0];
  let site: string | undefined;
  try {
    site = health && !health.includes('{host}') ? new URL(health).origin : undefined;
  } catch {
    site = undefined;
  }
  return {
    token,
    apiUrl,
    owner,
    repo,
    environment: inputs.string('environment') ?? 'production',
    maxWaitMs: 10_000,
    requestTimeoutMs: inputs.duration('github-timeout', 15_000, { min: 1000, max: 120_000 }),
    ...(site ? { environmentUrl: site } : {}),
    ...(context.holder.runUrl ? { logUrl: context.holder.runUrl } : {}),
  };
}

export interface StartedDeployment {
  github: GithubDeployments;
  id?: number;
}

const by = (context: RunContext) => (context.holder.actor ? ` by ${context.holder.actor}` : '');

export async function startDeployment(
  target: DeploymentTarget,
  inputs: Inputs,
  context: RunContext,
  log: Log,
): Promise<StartedDeployment> {
  const github = await GithubDeployments.open(target, log);
  const sha = inputs.raw('sha') || context.sha || '';
  const hosts = readHosts(inputs).map(describeTarget);
  const id = await github.create(
    sha,
    { app: inputs.raw('app-name'), hosts, ...(context.holder.runUrl ? { run: context.holder.runUrl } : {}) },
    `runbook-actions deploy of ${sha.slice(0, 7)}${by(context)}`,
  );
  if (id !== undefined)
    await github.status(id, 'in_progress', `deploying ${sha.slice(0, 7)} to ${hosts.length} host(s)`);
  return { github, ...(id !== undefined ? { id } : {}) };
}

export async function finishDeployment(
  started: StartedDeployment,
  result: RunResult,
  detail: string | undefined,
): Promise<void> {
  if (started.id === undefined) return;
  const release = String(result.outputs.release ?? '');
  if (!result.failure) {
    await started.github.status(started.id, 'success', `release ${release} live`);
    return;
  }
  const rolledBack = result.outputs['rolled-back'] === true || result.outputs['rolled-back'] === 'true';
  const previous = String(result.outputs['previous-release'] ?? '');
  await started.github.status(
    started.id,
    'failure',
    rolledBack
      ? `failed; rolled back to ${previous || 'the previous release'}: ${detail ?? ''}`
      : `failed: ${detail ?? ''}`,
  );
}

/** The release returned to is the active deployment again; the one left is marked inactive, saying why. */
export async function recordRollback(
  target: DeploymentTarget,
  result: RunResult,
  context: RunContext,
  log: Log,
): Promise<void> {
  const release = String(result.outputs.release ?? '');
  const from = String(result.outputs['from-release'] ?? '');
  if (!release || release === from) return;
  const github = await GithubDeployments.open(target, log);
  let back = await github.findRelease(release);
  const short = releaseSha(release);
  if (back === undefined && short)
    back = await github.create(short, { release }, `runbook-actions rollback to ${release}${by(context)}`);
  if (back !== undefined)
    await github.status(
      back,
      'success',
      `live again: rolled back to ${release} from ${from || 'the release before'}${by(context)}`,
    );
  const left = from ? await github.findRelease(from) : undefined;
  if (left !== undefined && left !== back)
    await github.status(left, 'inactive', `rolled back${by(context)}: ${release} serves instead of ${from}`);
}

/** action-deploy: a deployment made while it runs (in_progress), its end posted after. */
export const DEPLOY_DEPLOYMENTS: DeploymentHooks = {
  begin(inputs, context, log) {
    const target = readDeploymentRecord(inputs, context);
    if (!target) return undefined;
    // Caught at once: a rejection left for later would end the process before the deploy finished.
    const started = startDeployment(target, inputs, context, log).catch((error: unknown) => {
      log.warn(`GitHub's deployment record was not started (${errorText(error)}); the deploy goes on.`);
      return undefined;
    });
    return {
      finish: async (result, detail) => {
        const made = await started;
        if (made) await finishDeployment(made, result, detail);
      },
    };
  },
};

/** action-rollback: GitHub is told after the switch, never before it. */
export const ROLLBACK_DEPLOYMENTS: DeploymentHooks = {
  begin(inputs, context, log) {
    const target = readDeploymentRecord(inputs, context);
    if (!target) return undefined;
    return {
      finish: (result) => (result.failure ? Promise.resolve() : recordRollback(target, result, context, log)),
    };
  },
};
