/** A backup named by the user: the file or its manifest, whichever was given, and its format. */
import { existsSync } from 'node:fs';
import { OperationError } from '../errors.js';
import { detectFormat, manifestPath, readManifest, type BackupFormat, type Manifest } from './manifest.js';

export interface BackupFile {
  path: string;
  format: BackupFormat | 'plain';
  manifest?: Manifest;
}

export async function openBackupFile(given: string): Promise<BackupFile> {
  const path = given.endsWith('.manifest.json') ? given.slice(0, -'.manifest.json'.length) : given;
  if (!existsSync(path)) {
    throw new OperationError(
      `The backup ${path} does not exist${given !== path ? ` (named by the manifest ${given})` : ''}.`,
      'give the path of a backup file (or its .manifest.json) on the machine running this; download the artifact first in a workflow.',
    );
  }
  const manifest = existsSync(manifestPath(path)) ? await readManifest(manifestPath(path)) : undefined;
  return { path, format: manifest?.format ?? detectFormat(path), ...(manifest ? { manifest } : {}) };
}
