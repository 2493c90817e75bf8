/**
 * The SSH layer when the connection goes away: sshd killed by pid (listener and connections) and
 * started again on the same port, as a crashed sshd or a rebooting droplet does to a deploy.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';

import { Droplet, isAlive } from '../../sandbox/index.js';
import { sandboxSsh } from '../../sandbox/deploy-host.js';
import { silentLog } from '../../shared/src/log.js';
import { openSession, type SshOptions } from '../../shared/src/ssh/connect.js';
import { ConnectionLost } from '../../shared/src/ssh/session.js';
import { sh, tiedToConnection } from '../../shared/src/ssh/shell.js';
import type { SshTarget } from '../../shared/src/ssh/target.js';
import { ConfigurationError } from '../../shared/src/errors.js';
import { garbledKey } from '../helpers/garbled-key.js';

let droplet: Droplet;
let target: SshTarget;
let options: SshOptions;

beforeAll(async () => {
  droplet = await Droplet.start({ sshd: true });
  ({ target, options } = sandboxSsh(droplet.sshd as NonNullable<Droplet['sshd']>));
  options = { ...options, retry: { initialMs: 100, factor: 2, maxMs: 400, jitter: 0 } };
});
afterAll(async () => {
  await droplet?.stop();
});

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until;) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

function readPid(file: string): number {
  return Number(readFileSync(droplet.realPath(file), 'utf8').trim());
}

describe('a connection lost while a command runs', () => {
  it('says the connection to the host was lost during the step, not "ended by signal"', async () => {
    const session = await openSession(target, options, silentLog);
    const running = session.run('install', sh`sleep 20`);
    await new Promise((r) => setTimeout(r, 300));
    droplet.sshd?.kill();
    await expect(running).rejects.toThrow(ConnectionLost);
    await expect(running).rejects.toThrow(/^install failed on .*: the connection to .* was lost during it/);
    session.close();
    await droplet.sshd?.restart();
  });

  it('ends a command tied to the connection, and its children, once sshd has gone', async () => {
    const dir = `${droplet.hostRoot}/tied`;
    const session = await openSession(target, options, silentLog);
    await session.run('mkdir', sh`mkdir -p ${dir}`);
    // The untied command is the control: it survives the same fault, so the test can tell them apart.
    const tied = session.run(
      'tied',
      tiedToConnection(sh`sh -c ${`echo $$ > ${dir}/child.pid; exec sleep 60`} & wait`),
    );
    const untied = session.run('untied', sh`sh -c ${`echo $$ > ${dir}/free.pid; exec sleep 60`}`);
    const pidFiles = () => {
      try {
        return readPid(`${dir}/child.pid`) > 0 && readPid(`${dir}/free.pid`) > 0;
      } catch {
        return false;
      }
    };
    expect(await waitUntil(pidFiles, 5000)).toBe(true);
    const child = readPid(`${dir}/child.pid`);
    const free = readPid(`${dir}/free.pid`);
    droplet.sshd?.kill();
    await Promise.allSettled([tied, untied]);
    session.close();
    expect(await waitUntil(() => !isAlive(child), 4000)).toBe(true);
    expect(isAlive(free)).toBe(true);
    process.kill(free, 'SIGKILL');
    await droplet.sshd?.restart();
  });

  it('passes the exit status and output of a tied command through', async () => {
    const session = await openSession(target, options, silentLog);
    const ok = await session.run('tied', tiedToConnection(sh`echo out; echo err >&2`));
    expect(ok.stdout).toBe('out\n');
    await expect(session.run('tied', tiedToConnection(sh`exit 7`))).rejects.toThrow(/exit code 7/);
    const started = Date.now();
    await session.run('tied', tiedToConnection(sh`true`));
    // The watcher's sleep must not hold the channel open after the command has ended.
    expect(Date.now() - started).toBeLessThan(900);
    session.close();
  });
});

describe('a connection that dies while idle', () => {
  it('is seen as gone, never an uncaught error, and the next step says connection lost', async () => {
    const session = await openSession(target, options, silentLog);
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      droplet.sshd?.kill();
      // ssh2's keepalive and our next command write to the dead socket: the reset must not escape.
      await new Promise((r) => setTimeout(r, 300));
      await expect(session.run('after', sh`true`)).rejects.toThrow(
        /connection to .* was lost|not connected|Not connected/i,
      );
      await new Promise((r) => setTimeout(r, 300));
      expect(uncaught).toEqual([]);
      expect(session.connected).toBe(false);
    } finally {
      process.off('uncaughtException', onUncaught);
      session.close();
      await droplet.sshd?.restart();
    }
  });
});

describe('reconnecting', () => {
  it('rides out an sshd restart when given a deadline, and gives up after its attempts without one', async () => {
    droplet.sshd?.kill();
    await expect(openSession(target, { ...options, connectAttempts: 2 }, silentLog)).rejects.toThrow(
      /Could not connect to .* after 2 attempts/,
    );
    const back = new Promise((r) => setTimeout(r, 1500)).then(() => droplet.sshd?.restart());
    const started = Date.now();
    const session = await openSession(target, options, silentLog, { until: Date.now() + 15_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect((await session.run('echo', sh`echo back`)).stdout).toBe('back\n');
    expect(session.hostKey).toBe(droplet.sshd?.hostFingerprint);
    session.close();
    await back;
  });

  it('stops at the deadline with the attempts it made', async () => {
    droplet.sshd?.kill();
    const started = Date.now();
    await expect(openSession(target, options, silentLog, { until: Date.now() + 1200 })).rejects.toThrow(
      /Could not connect to .* after \d+ attempts/,
    );
    expect(Date.now() - started).toBeLessThan(3000);
    await droplet.sshd?.restart();
  });
});

describe('a key that cannot be used', () => {
  it('is an input error naming ssh-key, never a connection problem', async () => {
    const garbled = garbledKey();
    const attempt = openSession(target, { ...options, privateKey: garbled }, silentLog);
    await expect(attempt).rejects.toThrow(ConfigurationError);
    await expect(attempt).rejects.toThrow(/^Input 'ssh-key': cannot be used/);
  });
});
