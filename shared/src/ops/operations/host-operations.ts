/**
 * The operations that restart the app on its hosts — `restart`, `reload`, `start`, `stop` and `set-env` —
 * over the fleet's env-file hosts (the deploy lease held, the canary then batches), each written up as
 * an incident report when asked.
 */
import { resolve } from 'node:path';
import type { Inputs } from '../../config/inputs.js';
import { readEnvFile } from '../../envfile/inputs.js';
import { readBatchPlan } from '../../fleet/inputs.js';
import { incidentMarkdown, writeIncident, type Incident } from '../../incident/report.js';
import { readReleaseTarget } from '../../releases/inputs.js';
import type { ModeResult, RunContext } from '../../result.js';
import type { EnvHostsTarget } from '../../secrets/secret-hosts.js';
import { opsSummary, type Operation, type OpsCall, type OpsDeps } from '../operation.js';
import { parseSettings, pm2Operation, setEnv, type OpsReport, type Pm2Operation } from '../ops.js';

function readTarget(inputs: Inputs, context: RunContext): EnvHostsTarget {
  const target = readReleaseTarget(inputs, context);
  return {
    ...target,
    ...readBatchPlan(inputs),
    ...readEnvFile(inputs, target.appDir),
    keepBackups: inputs.integer('keep-backups', 5, { min: 1, max: 100 }),
    verifyUrls: [],
    dryRun: inputs.boolean('dry-run', false),
  };
}

function hostOperation(
  name: string,
  destructive: boolean,
  summary: string,
  act: (inputs: Inputs, target: EnvHostsTarget, deps: OpsDeps) => Promise<OpsReport>,
): Operation {
  return {
    name,
    destructive,
    mutates: true,
    summary,
    async run(inputs, context, deps, call) {
      const target = readTarget(inputs, context);
      const report = await act(inputs, target, deps);
      return hostResult(report, inputs, context, deps, call, target);
    },
  };
}

function hostResult(
  report: OpsReport,
  inputs: Inputs,
  context: RunContext,
  deps: OpsDeps,
  { name, dryRun, started }: OpsCall,
  target: EnvHostsTarget,
): ModeResult {
  const result = dryRun
    ? 'planned'
    : report.failure
      ? report.hosts.some((h) => h.result === 'reverted')
        ? 'reverted'
        : 'failed'
      : 'done';
  let summary = opsSummary(report);
  const outputs: ModeResult['outputs'] = { operation: name, result, report: JSON.stringify(report) };
  if (!dryRun && inputs.boolean('incident-report', false)) {
    const incident = opsIncident(report, started, new Date(), target, inputs.string('environment'), context);
    const path = writeIncident(
      resolve(
        (deps.env ?? process.env).GITHUB_WORKSPACE ?? '.',
        inputs.string('incident-dir') ?? 'incidents',
      ),
      incident,
    );
    outputs['incident-report'] = path;
    summary += `\n\n${incidentMarkdown(incident)}`;
  }
  return { mode: name, outputs, summary, ...(report.failure ? { failure: report.failure } : {}) };
}

function opsIncident(
  report: OpsReport,
  started: Date,
  ended: Date,
  target: EnvHostsTarget,
  environment: string | undefined,
  context: RunContext,
): Incident {
  const ok = !report.failure;
  return {
    name: `ops-${report.operation}`,
    title: `${report.operation} of ${target.pm2.name}`,
    ...(environment ? { environment } : {}),
    detectedAt: started.toISOString(),
    detection: `an operator ran ${report.operation}${context.holder.actor ? ` (${context.holder.actor})` : ''}; what prompted it is for the person to write`,
    steps: report.hosts.map((h) => ({
      name: `${h.host}: ${report.operation}`,
      startedAt: started.toISOString(),
      endedAt: ended.toISOString(),
      outcome: h.result === 'done' ? 'succeeded' : 'failed',
      detail: h.detail,
    })),
    mitigation: `${report.operation} of ${target.pm2.name} on ${report.hosts.map((h) => `${h.host} (${h.result})`).join(', ')}`,
    ...(ok && report.operation !== 'stop' ? { recoveredAt: ended.toISOString() } : {}),
    ...(context.holder.actor ? { actor: context.holder.actor } : {}),
    ...(context.holder.runUrl ? { runUrl: context.holder.runUrl } : {}),
  };
}

const pm2 = (name: Pm2Operation, destructive: boolean, summary: string): Operation =>
  hostOperation(name, destructive, summary, (_inputs, target, deps) => pm2Operation(name, target, deps));

export const hostOperations: Operation[] = [
  pm2(
    'restart',
    false,
    'pm2 restart `--update-env`, the canary first, then `max-parallel` hosts at a time, each through the health gate',
  ),
  pm2('reload', false, 'pm2 reload `--update-env`, no downtime in cluster mode, rolling like restart'),
  pm2('start', false, 'pm2 start, from the current release when pm2 lost the app, then the health gate'),
  pm2('stop', true, 'pm2 stop, then proof that it stopped: pm2 says stopped, the health URL refuses'),
  hostOperation(
    'set-env',
    true,
    '`settings` into the env file, restart, verify, every host put back on a failure',
    (inputs, target, deps) =>
      setEnv(
        parseSettings('settings', inputs.raw('settings'), inputs.boolean('allow-lowercase-name', false)),
        target,
        deps,
      ),
  ),
];
