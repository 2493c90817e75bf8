/**
 * Will a release fit? What the upload and unpack need on the host, measured from the artifact,
 * against the free space read with the host's state. Install (node_modules) comes on top and
 * cannot be known in advance: a margin covers small differences, a full disk during install is
 * caught and cleaned up by the store.
 */
import { formatBytes } from '../config/parse.js';
import { OperationError } from '../errors.js';

const MIB = 1024 * 1024;
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';

export interface ArtifactSize {
  /** The tarball as uploaded. */
  packedBytes: number;
  /** The tar stream once gunzipped: every file, plus tar's headers (a safe upper bound). */
  unpackedBytes: number;
}

/** What to do about a full disk, the same whether it was foreseen or met. */
function freeSpaceHint(host: string, appDir: string): string {
  return `free space on ${host} (\`df -h\`, \`du -sh ${appDir}/releases/* /var/log/*\`, \`pm2 flush\`), or lower keep-releases, then deploy again.`;
}

/** The upload and the unpacked tree exist together until the upload is removed, plus 5% and 1 MiB. */
export function spaceNeeded(size: ArtifactSize): number {
  const both = size.packedBytes + size.unpackedBytes;
  return Math.ceil(both * 1.05 + MIB);
}

export function notEnoughSpace(
  host: string,
  appDir: string,
  size: ArtifactSize,
  freeBytes: number,
): OperationError | undefined {
  const need = spaceNeeded(size);
  if (freeBytes >= need) return undefined;
  return new OperationError(
    `not enough disk space on ${host}: need ${formatBytes(need)} (upload ${formatBytes(size.packedBytes)} + unpacked ${formatBytes(size.unpackedBytes)} + margin), have ${formatBytes(freeBytes)} free for ${appDir}. Nothing was changed.`,
    freeSpaceHint(host, appDir),
  );
}

/** A command's error text saying the file system is full (or the quota spent). */
export function isDiskFull(text: string): boolean {
  return /No space left on device|ENOSPC|Disk quota exceeded/i.test(text);
}

/**
 * Removes what a failed preparation left (a half-unpacked release, the upload) so a full disk does
 * not stay full, and returns the error to throw: "disk full" when that is why. OpenSSH's sftp-server
 * reports ENOSPC only as "Failure", so free space is read back to tell.
 */
export async function discardPartial(
  session: SshSession,
  root: string,
  doomed: string[],
  error: unknown,
): Promise<unknown> {
  if (!session.connected) return error;
  const { stdout } = await session
    .run(
      'remove the partial release',
      sh`rm -rf -- ${doomed}; d=${root}; while [ ! -d "$d" ]; do d=$(dirname -- "$d"); done; df -Pk -- "$d" | awk 'NR==2 {print $4, $6}'`,
    )
    .catch(() => ({ stdout: '' }));
  const text = error instanceof Error ? error.message : String(error);
  const [freeKb, mount] = stdout.trim().split(' ');
  const full = isDiskFull(text) || (/upload failed \(Failure\)/.test(text) && Number(freeKb) < 1024);
  if (!full) return error;
  const lines = text.split('\n');
  const head = (lines[0] ?? '').replace(/\. Last stderr lines:$/, '').replace(/\.$/, '');
  const cause = lines.slice(1).find((line) => isDiskFull(line));
  return new OperationError(
    `disk full on ${session.name}: ${head}${cause ? ` (${cause.trim()})` : ''}. The partial release was removed (${formatBytes(Number(freeKb) * 1024)} free on ${mount ?? root} now); nothing serving was changed.`,
    freeSpaceHint(session.name, root),
    { cause: error },
  );
}
