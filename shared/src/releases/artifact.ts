/** The build job's output as one gzipped tarball to upload: given as a tarball, or packed from a directory. */
import { execFile } from 'node:child_process';
import { createGunzip } from 'node:zlib';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigurationError } from '../errors.js';
import type { ArtifactSize } from './disk.js';

const run = (file: string, args: string[]) => promisify(execFile)(file, args);

export interface PackedArtifact extends ArtifactSize {
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

/** Bytes of the gunzipped stream, read once without holding it: what unpacking will write, at most. */
async function gunzippedBytes(input: string, tarball: string): Promise<number> {
  let bytes = 0;
  const gunzip = createGunzip();
  gunzip.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) =>
      reject(
        new ConfigurationError(
          input,
          `${JSON.stringify(tarball)} is not a readable gzip tarball (${error.message}).`,
        ),
      );
    createReadStream(tarball).on('error', fail).pipe(gunzip).on('error', fail).on('end', resolve);
  });
  return bytes;
}

export async function packArtifact(path: string, input = 'artifact'): Promise<PackedArtifact> {
  if (!statSync(path).isDirectory()) {
    return {
      tarball: path,
      packedBytes: statSync(path).size,
      unpackedBytes: await gunzippedBytes(input, path),
      cleanup: () => undefined,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'runbook-artifact-'));
  const tarball = join(dir, 'release.tar.gz');
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    // execFile, not a shell: the path is an argument, never shell text.
    await run('tar', ['-czf', tarball, '-C', path, '.']);
    return {
      tarball,
      packedBytes: statSync(tarball).size,
      unpackedBytes: await gunzippedBytes(input, tarball),
      cleanup,
    };
  } catch (error) {
    cleanup();
    throw error;
  }
}
