/**
 * The backup gate: `migrate` and `rollback` (a _rollback.sql typically drops tables) change the
 * schema only after a backup of this database, taken by action-db-backup in the same run, passed
 * verification less than `backup-max-age` ago.
 */
import { existsSync } from 'node:fs';
import { SafetyRefusal } from '../../errors.js';
import { lastVerified, manifestPath, readManifest } from '../manifest.js';

export interface BackupGate {
  required: boolean;
  manifest?: string;
  maxAgeMs: number;
}

export async function checkBackupGate(
  gate: BackupGate,
  database: string,
  now = Date.now(),
  mode: 'migrate' | 'rollback' = 'migrate',
): Promise<string> {
  if (!gate.required) return 'backup gate off (require-backup: false)';
  const refuse = (why: string) =>
    new SafetyRefusal(
      mode === 'rollback'
        ? `Refused to roll back migrations of ${database}: ${why}. Nothing was rolled back.`
        : `Refused to migrate ${database}: ${why}. Nothing was applied.`,
      'run action-db-backup (verify: list or more) in the same job before this step and pass its `manifest` output as backup-manifest; or set require-backup: false if a backup is taken another way.',
    );
  if (!gate.manifest) throw refuse('no backup-manifest was given');
  const path = gate.manifest.endsWith('.manifest.json') ? gate.manifest : manifestPath(gate.manifest);
  if (!existsSync(path)) throw refuse(`the backup manifest ${path} does not exist`);
  const manifest = await readManifest(path);
  if (manifest.database !== database)
    throw refuse(
      `the backup is of the database ${JSON.stringify(manifest.database)}, not ${JSON.stringify(database)}`,
    );
  const verified = lastVerified(manifest);
  if (!verified) {
    const last = manifest.verifications.at(-1);
    throw refuse(
      last ? `the backup FAILED its verification (${last.level})` : 'the backup was never verified',
    );
  }
  const age = now - Date.parse(manifest.finishedAt);
  if (age > gate.maxAgeMs)
    throw refuse(
      `the backup was taken ${Math.round(age / 60_000)} min ago, more than backup-max-age (${Math.round(gate.maxAgeMs / 60_000)} min)`,
    );
  return `backup gate passed: ${manifest.file}, verified (${verified.level}), taken ${Math.round(age / 1000)} s ago`;
}
