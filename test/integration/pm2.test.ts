/**
 * releases/pm2.ts over a real sshd and a real pm2: after a fork-mode restart, the app's processes are
 * read from pm2's own pid files and /proc (no pm2 CLI start-up) and say what `pm2 jlist` says — the new
 * pid, online, its start time — and pm2's view is read instead whenever the pid files cannot say it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { pm2List, processesAfterRestart, type Pm2Process } from '../../shared/src/releases/pm2.js';
import type { SshSession } from '../../shared/src/ssh/session.js';
import { sh } from '../../shared/src/ssh/shell.js';
import { openHostSession, startDeployHost, type DeployHost } from '../../sandbox/deploy-host.js';

const APP = 'pm2-probe';
let host: DeployHost;
let session: SshSession;
beforeAll(async () => {
  host = await startDeployHost();
  session = await openHostSession(host);
  const script = `${host.appDir}/probe.cjs`;
  writeFileSync(host.droplet.realPath(script), 'setInterval(() => {}, 1000);\n');
  await session.run('start the probe', sh`pm2 start ${script} --name ${APP}`);
}, 30_000);
afterAll(async () => {
  session?.close();
  await host?.droplet.stop();
});

const mine = (list: Pm2Process[]) => list.filter((p) => p.name === APP);

/** The session, with the description of every command run through it written down: which path was taken. */
function watched(seen: string[]): SshSession {
  return new Proxy(session, {
    get(target, key) {
      if (key === 'run')
        return (what: string, ...rest: unknown[]) => (
          seen.push(what),
          (target.run as (...a: unknown[]) => unknown).call(target, what, ...rest)
        );
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
const PID_FILES = "read the app's pids from pm2's pid files";

describe('processesAfterRestart', () => {
  it('after a restart: the new pid, online, started when pm2 says — read from the pid file', async () => {
    const before = await pm2List(session);
    expect(mine(before)[0]?.pidFile).toMatch(new RegExp(`/pids/${APP}-\\d+\\.pid$`));
    const since = Date.now();
    await session.run('restart the probe', sh`pm2 restart ${APP}`);
    const seen: string[] = [];
    const after = mine(await processesAfterRestart(watched(seen), APP, before));
    expect(seen).toEqual([PID_FILES]); // pm2's CLI never started
    const pm2Says = mine(await pm2List(session));
    expect(after).toHaveLength(1);
    expect(after[0]?.pid).toBe(pm2Says[0]?.pid);
    expect(after[0]?.pid).not.toBe(mine(before)[0]?.pid);
    expect(after[0]?.status).toBe('online');
    // /proc counts in clock ticks (10 ms) and the uptime in centiseconds: pm2's own time within 50 ms.
    expect(Math.abs((after[0]?.startedAt ?? 0) - (pm2Says[0]?.startedAt ?? 0))).toBeLessThan(50);
    expect(after[0]?.startedAt).toBeGreaterThanOrEqual(since - 50);
  });

  it('a stopped app (pm2 removed its pid file): pm2 is asked, and it says stopped', async () => {
    const before = await pm2List(session);
    await session.run('stop the probe', sh`pm2 stop ${APP}`);
    const seen: string[] = [];
    const after = mine(await processesAfterRestart(watched(seen), APP, before));
    expect(seen).toEqual([PID_FILES, 'pm2 jlist']);
    expect(after[0]?.status).toBe('stopped');
    await session.run('start the probe again', sh`pm2 start ${APP}`);
  });

  it('no list from before (a first start) or cluster mode: what pm2 jlist says', async () => {
    const listed = mine(await pm2List(session));
    const seen: string[] = [];
    expect(mine(await processesAfterRestart(watched(seen), APP, undefined))).toEqual(listed);
    const cluster = (await pm2List(session)).map((p) => ({ ...p, execMode: 'cluster' as const }));
    expect(mine(await processesAfterRestart(watched(seen), APP, cluster))).toEqual(listed);
    expect(seen).toEqual(['pm2 jlist', 'pm2 jlist']);
  });
});
