/**
 * A host's env file read and replaced over SSH: the new text goes through stdin (never a command
 * line) into a temporary file created under umask 077, given the old file's owner and mode, the old
 * file kept as `<file>.bak-<time>` (the last `keepBackups`), then renamed over it — so the app never
 * reads a half-written file and a failed write leaves the old one in place.
 */
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';

/** A file's text, or undefined when it does not exist. */
export async function readRemoteFile(
  session: SshSession,
  step: string,
  path: string,
): Promise<string | undefined> {
  const { stdout, code } = await session.run(
    step,
    sh`if [ -e ${path} ]; then cat -- ${path}; else exit 3; fi`,
    {
      okCodes: [3],
    },
  );
  return code === 3 ? undefined : stdout;
}

export function readRemoteEnv(session: SshSession, path: string): Promise<string | undefined> {
  return readRemoteFile(session, 'read the env file', path);
}

export interface WriteResult {
  /** The backup of the previous file, when there was one. */
  backup?: string;
}

/**
 * Replaces a file through stdin: temp file under umask 077 beside it, the old file's owner and mode,
 * optionally a backup `<file>.bak-<stamp>` (the last `keep` kept), then rename. A path that is a
 * symlink (a release's `.env` linked to `shared/.env`) has its target replaced, never the link; its
 * backups stay beside the link, never beside a target elsewhere.
 */
export async function replaceRemoteFile(
  session: SshSession,
  step: string,
  path: string,
  text: string,
  backup?: { stamp: string; keep: number },
): Promise<WriteResult> {
  const { stdout } = await session.run(
    step,
    sh`set -e
umask 077
b=${path}
p=$b
if [ -L "$p" ]; then p=$(readlink -f -- "$p"); fi
tmp="$p.runbook-tmp"
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
if [ -e "$p" ]; then
  chown --reference="$p" "$tmp" 2>/dev/null || true
  chmod --reference="$p" "$tmp"
  ${backup ? sh`cp -p -- "$p" "$b.bak-"${backup.stamp} && echo "backup=$b.bak-"${backup.stamp}` : sh`:`}
fi
sync "$tmp" 2>/dev/null || true
mv -f -- "$tmp" "$p"
${backup ? sh`ls -1t -- "$b".bak-* 2>/dev/null | tail -n +${backup.keep + 1} | while IFS= read -r old; do rm -f -- "$old"; done` : sh`:`}`,
    { stdin: text },
  );
  const made = /^backup=(.*)$/m.exec(stdout)?.[1];
  return made ? { backup: made } : {};
}

export function writeRemoteEnv(
  session: SshSession,
  path: string,
  text: string,
  options: { keepBackups: number; stamp: string },
): Promise<WriteResult> {
  return replaceRemoteFile(session, 'write the env file', path, text, {
    stamp: options.stamp,
    keep: options.keepBackups,
  });
}
