/**
 * A host's env file read and replaced over SSH: the new text goes through stdin (never a command
 * line) into a temporary file created under umask 077, given the old file's owner and mode, the old
 * file kept as `<file>.bak-<time>` (the last `keepBackups`), then renamed over it — so the app never
 * reads a half-written file and a failed write leaves the old one in place.
 */
import type { SshSession } from '../ssh/session.js';
// The trap's command is itself shell text: its one value goes through the builder's quote().
import { quote, sh } from '../ssh/shell.js';

/** The file's text, or undefined when it does not exist. */
export async function readRemoteEnv(session: SshSession, path: string): Promise<string | undefined> {
  const { stdout, code } = await session.run(
    'read the env file',
    sh`if [ -e ${path} ]; then cat -- ${path}; else exit 3; fi`,
    {
      okCodes: [3],
    },
  );
  return code === 3 ? undefined : stdout;
}

export interface WriteResult {
  /** The backup of the previous file, when there was one. */
  backup?: string;
}

export async function writeRemoteEnv(
  session: SshSession,
  path: string,
  text: string,
  options: { keepBackups: number; stamp: string },
): Promise<WriteResult> {
  const tmp = `${path}.runbook-tmp`;
  const backup = `${path}.bak-${options.stamp}`;
  const { stdout } = await session.run(
    'write the env file',
    sh`set -e
umask 077
trap ${`rm -f -- ${quote(tmp)}`} EXIT
cat > ${tmp}
if [ -e ${path} ]; then
  chown --reference=${path} ${tmp} 2>/dev/null || true
  chmod --reference=${path} ${tmp}
  cp -p -- ${path} ${backup}
  echo backup
fi
sync ${tmp} 2>/dev/null || true
mv -f -- ${tmp} ${path}
ls -1t -- ${path}.bak-* 2>/dev/null | tail -n +${options.keepBackups + 1} | while IFS= read -r old; do rm -f -- "$old"; done`,
    { stdin: text },
  );
  return stdout.includes('backup') ? { backup } : {};
}
