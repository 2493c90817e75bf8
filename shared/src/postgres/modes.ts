/**
 * The one entry of action-db-backup and of the CLI's backup/verify/restore: reads the mode's inputs,
 * runs it, and returns outputs, a summary and the failure (if any) — the caller only writes them.
 */
import type { Inputs } from '../config/inputs.js';
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import { backup } from './backup.js';
import { readBackupOptions, readMode, readRestoreOptions, readVerifyOptions } from './inputs.js';
import { restore } from './restore.js';
import { backupSummary, restoreSummary, verifySummary } from './summary.js';
import { verifyMode } from './verify-mode.js';

import type { ModeResult, RunContext } from '../result.js';
import { recordRun, type RecordSpec } from '../audit/record.js';

function failureText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A restore leaves an audit line on the database droplet (`ssh-host`) when it is reached through one. */
const RESTORE_RECORD: RecordSpec = {
  operation: () => 'restore',
  mutates: (inputs) => inputs.raw('mode') === 'restore' && !inputs.boolean('dry-run', false),
  where: { sshHostInput: 'ssh-host' },
  auditInputs: ['mode', 'backup', 'from-host', 'allow-other-database', 'safety-backup'],
  announceStart: true,
};

type BackupDeps = { log: Log; signal?: AbortSignal };

export function runBackupMode(inputs: Inputs, context: RunContext, deps: BackupDeps): Promise<ModeResult> {
  // Only a restore changes a database: a backup or a verify is told when it fails, and audited nowhere.
  return recordRun(inputs, context, RESTORE_RECORD, deps, (recorded, log) =>
    backupModeUnrecorded(recorded, { ...deps, log }),
  );
}

async function backupModeUnrecorded(inputs: Inputs, deps: BackupDeps): Promise<ModeResult> {
  const mode = readMode(inputs);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  if (mode === 'backup') {
    const options = readBackupOptions(inputs);
    const report = await backup(options, deps);
    const failure = report.failure;
    const m = report.backup?.manifest;
    return {
      mode,
      outputs: {
        path: report.backup?.path,
        manifest: report.backup?.manifestPath,
        sha256: m?.sha256,
        bytes: m?.bytes,
        'duration-ms': elapsed(),
        tables: m ? JSON.stringify(m.tables) : undefined,
        'remote-path': report.remotePath,
        verified: report.verification ? report.verification.ok : undefined,
        level: report.verification?.level,
        'restore-ms': report.verification?.restoreMs,
        mismatches: report.verification ? JSON.stringify(report.verification.mismatches) : undefined,
      },
      summary: backupSummary(report, failure ? failureText(failure) : undefined),
      ...(failure ? { failure } : {}),
    };
  }
  if (mode === 'verify') {
    const options = readVerifyOptions(inputs);
    const report = await verifyMode(options, deps);
    const outcome = report.outcome;
    const failure =
      outcome && !outcome.ok
        ? new OperationError(
            `Backup ${report.path} FAILED verification at level ${outcome.level}: ${outcome.problems.join('; ')}.`,
            'do not rely on this backup: take a new one now (mode: backup) and find out why (disk, transfer) before the next.',
          )
        : undefined;
    return {
      mode,
      outputs: {
        verified: outcome ? outcome.ok : undefined,
        level: outcome?.level,
        'restore-ms': outcome?.restoreMs,
        mismatches: outcome ? JSON.stringify(outcome.mismatches) : undefined,
        'duration-ms': elapsed(),
      },
      summary: verifySummary(report.path, outcome, report.plan, failure?.message),
      ...(failure ? { failure } : {}),
    };
  }
  const options = readRestoreOptions(inputs);
  const report = await restore(options, deps);
  const failure = report.failure;
  return {
    mode,
    outputs: {
      restored: report.restored ?? false,
      'safety-backup': report.safetyBackup,
      'restore-ms': report.restoreMs,
      mismatches: JSON.stringify(report.mismatches),
      'duration-ms': elapsed(),
    },
    summary: restoreSummary(options.backup, report, failure?.message),
    ...(failure ? { failure } : {}),
  };
}
