/** The build job's output as one gzipped tarball to upload: given as a tarball, or packed from a directory. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigurationError } from '../errors.js';

const run = promisify(execFile);

export interface PackedArtifact {
  tarball: string;
  /** Removes what packing created (nothing for a given tarball). */
  cleanup(): void;
}

export function checkArtifact(input: string, path: string): void {
  if (!existsSync(path))
    throw new ConfigurationError(
      input,
      `${JSON.stringify(path)} does not exist (did the build job's artifact download to this path?).`,
    );
  const stat = statSync(path);
  if (!stat.isDirectory() && !/\.(tar\.gz|tgz)$/.test(path)) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(path)} is neither a directory nor a .tar.gz/.tgz tarball.`,
    );
  }
}

export async function packArtifact(path: string): Promise<PackedArtifact> {
  if (!statSync(path).isDirectory()) return { tarball: path, cleanup: () => undefined };
  const dir = mkdtempSync(join(tmpdir(), 'runbook-artifact-'));
  const tarball = join(dir, 'release.tar.gz');
  // execFile, not a shell: the path is an argument, never shell text.
  await run('tar', ['-czf', tarball, '-C', path, '.']);
  return { tarball, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
