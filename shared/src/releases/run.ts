/**
 * The one entry of action-deploy / action-rollback and `runbook deploy` / `runbook rollback`: read
 * the inputs, run, give outputs, a summary and the failure — the deploy's incident report included,
 * so that the CLI writes it exactly as the action does.
 */
import type { Inputs } from '../config/inputs.js';
import { deployIncident } from '../incident/from-deploy.js';
import { incidentDir, incidentMarkdown, writeIncident } from '../incident/report.js';
import type { Log } from '../log.js';
import type { RunResult } from '../result.js';
import { deploy } from './deploy.js';
import { readDeployOptions, readJoinOptions } from './inputs.js';
import { join } from './join.js';
import type { RunContext } from '../result.js';
import { releaseSummaryMarkdown } from './summary.js';
import { recordRun, type RecordSpec } from '../audit/record.js';
import { DEPLOY_DEPLOYMENTS } from '../github/record-deployment.js';

const notDryRun = (inputs: Inputs) => !inputs.boolean('dry-run', false);

/** A deploy's audit line: what was deployed, how; a join's: which host joined. */
const DEPLOY_RECORD: RecordSpec = {
  operation: (inputs) => (inputs.string('join') ? 'join' : 'deploy'),
  mutates: notDryRun,
  where: { hosts: true },
  auditInputs: ['sha', 'join', 'traffic', 'max-parallel', 'canary', 'migrations'],
  deployments: DEPLOY_DEPLOYMENTS,
};

export interface RunDeps {
  log: Log;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  /** The checked-out workspace: migration files (a rollback past a migration) must be inside it. */
  workspace?: string;
}

export function runDeploy(inputs: Inputs, context: RunContext, deps: RunDeps): Promise<RunResult> {
  return recordRun(inputs, context, DEPLOY_RECORD, deps, (recorded, log) =>
    recorded.string('join')
      ? joinUnrecorded(recorded, context, { ...deps, log })
      : deployUnrecorded(recorded, context, { ...deps, log }),
  );
}

async function deployUnrecorded(inputs: Inputs, context: RunContext, deps: RunDeps): Promise<RunResult> {
  const options = readDeployOptions(inputs, context);
  const wantsIncident = inputs.boolean('incident-report', false);
  const report = await deploy(options, deps);
  const result: RunResult = {
    outputs: {
      release: report.release,
      'previous-release': report.previousRelease,
      'rolled-back': report.rolledBack,
      'hosts-report': JSON.stringify(report.hosts),
      'duration-ms': report.durationMs,
    },
    summary: releaseSummaryMarkdown(
      `Deploy ${options.sha.slice(0, 7)} to ${options.pm2.name}`,
      report.hosts,
      report.plan,
      report.failure?.message,
    ),
    ...(report.failure ? { failure: report.failure } : {}),
  };
  if (report.failure && report.rolledBack && wantsIncident) {
    // The runbook's Incident Documentation: the post-mortem template filled in, in the workspace.
    const environment = inputs.string('environment');
    const incident = deployIncident(report, {
      sha: options.sha,
      app: options.pm2.name,
      endedAt: new Date(),
      ...(environment ? { environment } : {}),
      ...(context.holder.actor ? { actor: context.holder.actor } : {}),
      ...(context.holder.runUrl ? { runUrl: context.holder.runUrl } : {}),
    });
    const path = writeIncident(incidentDir(inputs.string('incident-dir'), deps.env), incident);
    deps.log.info(`incident report written to ${path}`);
    result.outputs['incident-report'] = path;
    result.summary += `\n\n${incidentMarkdown(incident)}`;
  }
  return result;
}

/** action-deploy with `join` (and `runbook join`): a new host gets the fleet's live release. */
export function runJoin(inputs: Inputs, context: RunContext, deps: RunDeps): Promise<RunResult> {
  return recordRun(inputs, context, DEPLOY_RECORD, deps, (recorded, log) =>
    joinUnrecorded(recorded, context, { ...deps, log }),
  );
}

async function joinUnrecorded(inputs: Inputs, context: RunContext, deps: RunDeps): Promise<RunResult> {
  const options = readJoinOptions(inputs, context);
  const report = await join(options, deps);
  const ready = report.ready
    ? `\n\n**${report.host} is ready**: it serves ${report.release} healthy. Add it to the load balancer now (DigitalOcean → Networking → Load Balancers → Add Droplets); that step is not automated.`
    : '';
  return {
    outputs: {
      release: report.release,
      joined: report.ready ? report.host : '',
      'hosts-report': JSON.stringify(report.hosts),
      'duration-ms': report.durationMs,
    },
    summary:
      releaseSummaryMarkdown(
        `Join ${report.host} to ${options.pm2.name}${report.source ? ` (from ${report.source})` : ''}`,
        report.hosts,
        report.plan,
        report.failure?.message,
      ) + ready,
    ...(report.failure ? { failure: report.failure } : {}),
  };
}
