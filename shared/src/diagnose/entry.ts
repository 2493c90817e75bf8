/** The one entry of action-diagnose and `runbook diagnose`: read the inputs, diagnose, give outputs, a summary and — with `fail-on` — a failure. */
import type { Inputs } from '../config/inputs.js';
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import type { ModeResult } from '../result.js';
import { diagnose } from './diagnose.js';
import { readDiagnoseOptions } from './inputs.js';
import { diagnoseSummary } from './summary.js';
import { readStatus } from '../status/status.js';
import { readStatusOptions } from '../status/inputs.js';
import { readTrail, readTrailOptions, runAuditMode, trailMarkdown } from '../audit/trail.js';

const LEVELS = ['P0', 'P1', 'P2', 'P3'] as const;

export async function runDiagnose(
  inputs: Inputs,
  deps: { log: Log; env?: NodeJS.ProcessEnv },
): Promise<ModeResult> {
  const mode = inputs.choice('mode', ['diagnose', 'status', 'audit'] as const, 'diagnose');
  // `mode: audit` reads the hosts' audit trail (runbook audit).
  if (mode === 'audit') return runAuditMode(inputs, deps);
  // `mode: status` reads what is live and judges nothing (runbook status), with the last day's changes.
  if (mode === 'status') {
    const status = await readStatus(readStatusOptions(inputs), deps);
    const trail = await readTrail(readTrailOptions(inputs), deps);
    return {
      ...status,
      outputs: { ...status.outputs, audit: JSON.stringify(trail.events) },
      summary: `${status.summary}

${trailMarkdown(trail, 'Changes in the last ' + (inputs.raw('since') || '24h') + ', newest first')}`,
    };
  }
  const options = readDiagnoseOptions(inputs, deps.env);
  const failOn = inputs.choice('fail-on', ['never', 'p0', 'p1', 'p2', 'p3'] as const, 'never').toUpperCase();
  const report = await diagnose(options, deps);
  for (const f of report.findings)
    deps.log.warn(`${f.severity} ${f.where} ${f.check}: ${f.why} — next: ${f.next}`);
  deps.log.info(
    `severity: ${report.severity} (${report.findings.length} finding(s), ${report.durationMs} ms)`,
  );
  const failing =
    failOn !== 'NEVER' &&
    report.severity !== 'OK' &&
    LEVELS.indexOf(report.severity) <= LEVELS.indexOf(failOn as (typeof LEVELS)[number]);
  return {
    mode: 'diagnose',
    outputs: {
      severity: report.severity,
      findings: JSON.stringify(report.findings),
      report: JSON.stringify({ ...report, bundleFiles: undefined }),
      'bundle-dir': options.bundleDir,
    },
    summary: diagnoseSummary(report),
    ...(failing
      ? {
          failure: new OperationError(
            `Diagnosis: ${report.severity} — ${report.findings[0]?.where}: ${report.findings[0]?.why}`,
            report.findings[0]?.next ?? 'see the summary.',
          ),
        }
      : {}),
  };
}
