/** The one entry of action-rotate-secret and the CLI's rotate-secret: read the mode's inputs, run it, give outputs and a summary. */
import type { Inputs } from '../config/inputs.js';
import type { Log } from '../log.js';
import type { ModeResult } from '../result.js';
import type { RunContext } from '../result.js';
import { auditSecrets } from './audit.js';
import { readAuditOptions, readRotateOptions, readSecretMode, readSecretTarget } from './inputs.js';
import { retirePrevious, rotateSecret, type RotationReport } from './rotate.js';
import { auditSummary, rotationSummary } from './summary.js';
import { recordRun, type RecordSpec } from '../audit/record.js';

/** A rotation's audit line carries the new value's fingerprint, never the value. */
const SECRET_RECORD: RecordSpec = {
  operation: (inputs) => `${inputs.raw('mode') || 'rotate'} ${inputs.raw('name')}`.trim(),
  mutates: (inputs) => inputs.raw('mode') !== 'audit' && !inputs.boolean('dry-run', false),
  where: { hosts: true },
  auditInputs: ['mode', 'name', 'grace', 'generate', 'github-scope', 'github-secret-name'],
  announceStart: true,
  facts: (result, inputs) => {
    const fingerprint = result.outputs.fingerprint;
    const name = inputs.raw('name');
    // A failed rotation was put back: the hosts hold the old value, not the one tried.
    return typeof fingerprint === 'string' && fingerprint && name && !result.failure
      ? { secret: { name, fingerprint } }
      : {};
  },
};

type SecretDeps = { log: Log; signal?: AbortSignal; env?: NodeJS.ProcessEnv };

export function runSecretMode(inputs: Inputs, context: RunContext, deps: SecretDeps): Promise<ModeResult> {
  return recordRun(inputs, context, SECRET_RECORD, deps, (recorded, log) =>
    secretModeUnrecorded(recorded, context, { ...deps, log }),
  );
}

async function secretModeUnrecorded(
  inputs: Inputs,
  context: RunContext,
  deps: SecretDeps,
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
