/** The one entry of action-rotate-secret and the CLI's rotate-secret: read the mode's inputs, run it, give outputs and a summary. */
import type { Inputs } from '../config/inputs.js';
import type { Log } from '../log.js';
import type { ModeResult } from '../result.js';
import type { RunContext } from '../result.js';
import { auditSecrets } from './audit.js';
import { readAuditOptions, readRotateOptions, readSecretMode, readSecretTarget } from './inputs.js';
import { retirePrevious, rotateSecret, type RotationReport } from './rotate.js';
import { auditSummary, rotationSummary } from './summary.js';

export async function runSecretMode(
  inputs: Inputs,
  context: RunContext,
  deps: { log: Log; signal?: AbortSignal; env?: NodeJS.ProcessEnv },
): Promise<ModeResult> {
  const mode = readSecretMode(inputs);
  if (mode === 'audit') {
    const report = await auditSecrets(readAuditOptions(inputs), deps);
    for (const warning of report.warnings) deps.log.warn(warning);
    return {
      mode,
      outputs: {
        report: JSON.stringify(report.rows),
        'hosts-updated': 0,
        'github-updated': false,
        reverted: false,
      },
      summary: auditSummary(report),
      ...(report.failure ? { failure: report.failure } : {}),
    };
  }
  const report =
    mode === 'rotate'
      ? await rotateSecret(readRotateOptions(inputs, context, deps.env ?? process.env), deps)
      : await retirePrevious(readSecretTarget(inputs, context), deps);
  return {
    mode,
    outputs: rotationOutputs(report),
    summary: rotationSummary(report),
    ...(report.failure ? { failure: report.failure } : {}),
  };
}

function rotationOutputs(report: RotationReport): Record<string, string | number | boolean | undefined> {
  return {
    fingerprint: report.fingerprint,
    'previous-fingerprint': report.previousFingerprint,
    'hosts-updated': report.hosts.filter((h) => h.outcome === 'updated').length,
    'github-updated': report.github.updated,
    reverted: report.reverted,
    report: JSON.stringify({
      mode: report.mode,
      name: report.name,
      fingerprint: report.fingerprint,
      previousFingerprint: report.previousFingerprint,
      hosts: report.hosts,
      github: report.github,
      reverted: report.reverted,
      notes: report.notes,
      durationMs: report.durationMs,
      ...(report.failure ? { failure: report.failure.message } : {}),
    }),
  };
}
