/**
 * `from-host: true` — verify or restore a backup kept on the droplet (the runbook's
 * /var/backups/bunty, where `remote-dir` copies them): its links followed there (`bunty-latest.dump`
 * names the newest), the file or directory and its manifest fetched over SFTP into `path` as
 * `.partial` and renamed when complete. The checks that follow (sha256 against the manifest before a
 * restore touches anything) then hold for the copy as they do for a local file.
 */
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import { openSession } from '../ssh/connect.js';
import { sh } from '../ssh/shell.js';
import type { SshRoute } from './endpoint.js';
import { manifestPath } from './manifest.js';

export interface FromHost {
  route: SshRoute;
  /** Local directory the copy goes to. */
  dir: string;
}

const MANIFEST = '.manifest.json';

/** Fetches the backup named on the host; returns the local path of the copy. */
export async function fetchFromHost(remote: string, from: FromHost, log: Log): Promise<string> {
  const started = performance.now();
  const given = remote.endsWith(MANIFEST) ? remote.slice(0, -MANIFEST.length) : remote;
  const session = await openSession(from.route.host, from.route.ssh, log);
  try {
    const { stdout } = await session.run(
      'find the backup on the host',
      // Values only ever as the quoted words the builder makes, never inside double quotes.
      sh`real=$(readlink -e -- ${given}) || { echo no backup at that path >&2; exit 3; }
printf '%s\n' "$real"
if test -f "$real.manifest.json"; then echo manifest; else echo none; fi
if test -d "$real"; then echo dir; ls -1A -- "$real"; else echo file; fi`,
    );
    const [real = '', manifest, kind, ...files] = stdout.split('\n').filter((line) => line !== '');
    const local = join(from.dir, basename(real));
    const partial = `${local}.partial`;
    mkdirSync(from.dir, { recursive: true });
    rmSync(partial, { recursive: true, force: true });
    try {
      if (kind === 'dir') {
        mkdirSync(partial);
        for (const file of files)
          await session.download('fetch the backup', `${real}/${file}`, join(partial, file));
      } else {
        await session.download('fetch the backup', real, partial);
      }
      rmSync(local, { recursive: true, force: true });
      renameSync(partial, local);
      if (manifest === 'manifest')
        await session.download('fetch the manifest', `${real}${MANIFEST}`, manifestPath(local));
    } catch (error) {
      rmSync(partial, { recursive: true, force: true });
      throw error;
    }
    const bytes = kind === 'dir' ? files.length : statSync(local).size;
    log.info(
      `fetched ${session.name}:${real}${given !== real ? ` (${given})` : ''} — ${kind === 'dir' ? `${bytes} files` : `${bytes} bytes`}${manifest === 'manifest' ? ' and its manifest' : ', no manifest'} — into ${local} in ${Math.round(performance.now() - started)} ms`,
    );
    return local;
  } catch (error) {
    if (error instanceof Error && /no backup at/.test(error.message))
      throw new OperationError(
        `There is no backup at ${session.name}:${given}.`,
        `list the backups there (ls -l ${given.replace(/\/[^/]*$/, '')}) and pass one as backup.`,
      );
    throw error;
  } finally {
    session.close();
  }
}
