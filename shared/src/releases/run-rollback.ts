/**
 * The entry of action-rollback and `runbook rollback`, apart from the deploy's (run.ts): only a
 * rollback may roll migrations back, so only it carries the migration code.
 */
import type { Inputs } from '../config/inputs.js';
import type { RunContext, RunResult } from '../result.js';
import { readRollbackOptions } from './inputs.js';
import { rollback } from './rollback.js';
import type { RunDeps } from './run.js';
import { releaseSummaryMarkdown } from './summary.js';
import { recordRun, type RecordSpec } from '../audit/record.js';
import { ROLLBACK_DEPLOYMENTS } from '../github/record-deployment.js';

const ROLLBACK_RECORD: RecordSpec = {
  operation: (inputs) =>
    inputs.boolean('rollback-migrations', false) ? 'rollback with its migrations' : 'rollback',
  mutates: (inputs) => !inputs.boolean('dry-run', false),
  where: { hosts: true },
  auditInputs: ['release', 'rollback-migrations', 'traffic', 'max-parallel', 'canary'],
  announceStart: true,
  deployments: ROLLBACK_DEPLOYMENTS,
};

export function runRollback(inputs: Inputs, context: RunContext, deps: RunDeps): Promise<RunResult> {
  return recordRun(inputs, context, ROLLBACK_RECORD, deps, (recorded, log) =>
    rollbackUnrecorded(recorded, context, { ...deps, log }),
  );
}

async function rollbackUnrecorded(inputs: Inputs, context: RunContext, deps: RunDeps): Promise<RunResult> {
  const options = readRollbackOptions(inputs, context, deps.workspace);
  const report = await rollback(options, deps);
  return {
    outputs: {
      release: report.release,
      'from-release': report.fromRelease,
      'hosts-report': JSON.stringify(report.hosts),
      'migrations-rolled-back': JSON.stringify(report.schema?.rolledBack.map((r) => r.file) ?? []),
      'duration-ms': report.durationMs,
    },
    summary:
      releaseSummaryMarkdown(
        `Rollback of ${options.pm2.name}`,
        report.hosts,
        report.plan,
        report.failure?.message,
      ) +
      (report.schema?.rolledBack.length
        ? `\n\n### Migrations rolled back first (newest first)\n\n${report.schema.gate ? `- ${report.schema.gate}\n` : ''}${report.schema.rolledBack.map((r) => `- ${r.file} (${r.durationMs} ms)`).join('\n')}`
        : ''),
    ...(report.failure ? { failure: report.failure } : {}),
  };
}
