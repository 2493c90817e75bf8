/** The env-file core over a real sshd: atomic replace keeping owner and mode, backups pruned, values via stdin only. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { EnvFile } from '../../shared/src/envfile/envfile.js';
import { readRemoteEnv, writeRemoteEnv } from '../../shared/src/envfile/remote.js';
import type { SshSession } from '../../shared/src/ssh/session.js';
import { openHostSession, startDeployHost, type DeployHost } from '../../sandbox/deploy-host.js';

const isRoot = process.getuid?.() === 0;
let host: DeployHost;
let session: SshSession;
beforeAll(async () => {
  host = await startDeployHost();
  session = await openHostSession(host);
}, 30_000);
afterAll(async () => {
  session?.close();
  await host?.droplet.stop();
});

describe('remote env file', () => {
  it('replaces the file atomically with the same owner and mode, keeps the last backups, and reads it back', async () => {
    const path = `${host.appDir}/shared/.env`;
    const real = host.droplet.realPath(path);
    const original = '# app\r\nPORT=1\r\nexport JWT_SECRET="old"\r\n';
    writeFileSync(real, original);
    chmodSync(real, 0o640);
    if (isRoot) chownSync(real, 65534, 65534);
    expect(await readRemoteEnv(session, path)).toBe(original);
    let expected = original;
    for (let n = 1; n <= 4; n++) {
      expected = EnvFile.parse(expected).set('JWT_SECRET', `new value ${n}`).toString();
      const result = await writeRemoteEnv(session, path, expected, {
        keepBackups: 2,
        stamp: `2026113${n}T000000Z`,
      });
      expect(result.backup).toBe(`${path}.bak-2026113${n}T000000Z`);
    }
    expect(readFileSync(real, 'utf8')).toBe('# app\r\nPORT=1\r\nexport JWT_SECRET="new value 4"\r\n');
    const info = statSync(real);
    expect(info.mode & 0o777).toBe(0o640);
    if (isRoot) expect([info.uid, info.gid]).toEqual([65534, 65534]);
    const left = readdirSync(dirname(real))
      .filter((f) => f.startsWith('.env.'))
      .sort();
    expect(left).toEqual(['.env.bak-20261133T000000Z', '.env.bak-20261134T000000Z']);
    expect(readFileSync(`${real}.bak-20261134T000000Z`, 'utf8')).toContain('new value 3');
  });

  it('creates a missing file private to its owner; a missing file reads as undefined', async () => {
    const path = `${host.appDir}/shared/new.env`;
    expect(await readRemoteEnv(session, path)).toBeUndefined();
    const result = await writeRemoteEnv(session, path, 'A=1\n', { keepBackups: 2, stamp: 'x' });
    expect(result.backup).toBeUndefined();
    expect(statSync(host.droplet.realPath(path)).mode & 0o777).toBe(0o600);
    expect(existsSync(host.droplet.realPath(`${path}.runbook-tmp`))).toBe(false);
  });

  it('replaces the target of a linked env file (a release links shared/.env), never the link; the backup stays beside the link', async () => {
    const target = `${host.appDir}/shared/linked.env`;
    const link = `${host.appDir}/shared/release.env`;
    writeFileSync(host.droplet.realPath(target), 'A=1\n');
    symlinkSync(target, host.droplet.realPath(link));
    const result = await writeRemoteEnv(session, link, 'A=2\n', { keepBackups: 1, stamp: 'y' });
    expect(result.backup).toBe(`${link}.bak-y`);
    expect(existsSync(host.droplet.realPath(`${target}.bak-y`))).toBe(false);
    expect(lstatSync(host.droplet.realPath(link)).isSymbolicLink()).toBe(true);
    expect(readFileSync(host.droplet.realPath(target), 'utf8')).toBe('A=2\n');
  });
});
