/**
 * The copy on the droplet (the runbook's /var/backups/bunty), over SFTP: uploaded as `.partial`,
 * its sha256 computed there and compared with the manifest, flushed, renamed; the manifest after it;
 * and only then the `<name>-latest<ext>` links moved to it, atomically (a new link renamed over the
 * old one). A copy that fails half way is removed and the links still name the previous backup.
 */
import { basename, join } from 'node:path';
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import type { SshSession } from '../ssh/session.js';
import { allOf, sh } from '../ssh/shell.js';
import type { WrittenBackup } from './dump.js';
import { EXTENSIONS, manifestPath } from './manifest.js';

export async function copyToHost(
  session: SshSession,
  backup: WrittenBackup,
  remoteDir: string,
  name: string,
  log: Log,
): Promise<string> {
  const file = basename(backup.path);
  const final = `${remoteDir}/${file}`;
  const partial = `${final}.partial`;
  const started = performance.now();
  await session.run('prepare the backup directory', sh`mkdir -p -- ${remoteDir} && rm -rf -- ${partial}`);
  try {
    const files = backup.manifest.files;
    if (files) {
      await session.run('prepare the backup directory', sh`mkdir -- ${partial}`);
      for (const f of files)
        await session.upload('upload the backup', join(backup.path, f.name), `${partial}/${f.name}`);
      const { stdout } = await session.run(
        'checksum the copy',
        sh`cd ${partial} && sha256sum -- ${files.map((f) => f.name)} && sync .`,
      );
      for (const f of files) {
        if (!stdout.includes(`${f.sha256}  ${f.name}`))
          throw new OperationError(
            `The copy of ${f.name} on ${session.name} does not match its sha256.`,
            "run the backup again; check the droplet's disk (df -h, dmesg).",
          );
      }
    } else {
      await session.upload('upload the backup', backup.path, partial);
      const { stdout } = await session.run(
        'checksum the copy',
        sh`sha256sum -- ${partial} && sync -- ${partial}`,
      );
      const got = stdout.trim().split(/\s+/)[0];
      if (got !== backup.manifest.sha256) {
        throw new OperationError(
          `The copy on ${session.name} has sha256 ${got?.slice(0, 16)}…, not ${backup.manifest.sha256.slice(0, 16)}… as written here.`,
          "run the backup again; check the droplet's disk (df -h, dmesg).",
        );
      }
    }
    await session.run('publish the copy', sh`mv -T -- ${partial} ${final}`);
  } catch (error) {
    await session.run('remove the partial copy', sh`rm -rf -- ${partial}`).catch(() => undefined);
    throw error;
  }
  const manifestFinal = manifestPath(final);
  await session.upload('upload the manifest', backup.manifestPath, `${manifestFinal}.partial`);
  await session.run(
    'publish the manifest',
    sh`sync -- ${`${manifestFinal}.partial`} && mv -T -- ${`${manifestFinal}.partial`} ${manifestFinal}`,
  );
  const link = `${remoteDir}/${name}-latest${EXTENSIONS[backup.manifest.format]}`;
  const tmp = `${remoteDir}/.${name}-latest.tmp`;
  await session.run(
    'move the latest link',
    allOf(
      sh`ln -sfn -- ${file} ${tmp} && mv -T -- ${tmp} ${link}`,
      sh`ln -sfn -- ${basename(manifestFinal)} ${tmp} && mv -T -- ${tmp} ${manifestPath(link)}`,
    ),
  );
  log.info(
    `copied to ${session.name}:${final} in ${Math.round(performance.now() - started)} ms; ${basename(link)} → ${file}`,
  );
  return final;
}
