/**
 * The sandbox droplet itself: real PostgreSQL, real sshd whose commands see the sandbox's pm2,
 * the sample app's failure modes under real pm2, and a stop that leaves no process behind.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { NodeSSH } from 'node-ssh';
import { Droplet, isAlive, type SampleApp } from '../../sandbox/index.js';

let droplet: Droplet;
let app: SampleApp;

beforeAll(async () => {
  droplet = await Droplet.start({ postgres: true, sshd: true });
  app = await droplet.startApp({ releaseId: 'r-42' });
});
afterAll(async () => {
  await droplet?.stop();
});

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('sandbox droplet', () => {
  it('serves the runbook /health format with a release id', async () => {
    const response = await fetch(app.healthUrl);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-release-id')).toBe('r-42');
    expect(await response.json()).toMatchObject({
      status: 'healthy',
      services: { database: 'connected', redis: 'connected', midnight: 'connected' },
      releaseId: 'r-42',
    });
  });

  it('runs a PostgreSQL that takes the app password over TCP only', async () => {
    const client = new pg.Client({ connectionString: droplet.postgres?.url });
    await client.connect();
    const { rows } = await client.query<{ user: string; port: string }>(
      "SELECT current_user AS user, current_setting('port') AS port",
    );
    await client.end();
    expect(rows[0]).toEqual({ user: 'bunty', port: String(droplet.postgres?.port) });
    const wrong = new pg.Client({
      connectionString: droplet.postgres?.url.replace(droplet.postgres.password, 'nope'),
    });
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
  });

  it('runs an sshd whose commands see the sandbox pm2, with a pinned host key', async () => {
    const sshd = droplet.sshd;
    if (!sshd) throw new Error('no sshd');
    const ssh = new NodeSSH();
    let offered = '';
    await ssh.connect({
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      privateKey: sshd.privateKey,
      hostVerifier: (key: Buffer) => {
        offered = key.toString('base64');
        return true;
      },
    });
    try {
      expect(sshd.knownHosts.split(' ')[2]).toBe(offered);
      const env = await ssh.execCommand('printf %s "$PM2_HOME"');
      expect(env.stdout).toBe(droplet.pm2.home);
      const list = await ssh.execCommand('pm2 jlist');
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout.slice(list.stdout.indexOf('[')))).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'bunty-backend' })]),
      );
    } finally {
      ssh.dispose();
    }
  });

  it('can crash an app at start and crash-loop another (pm2 restarts grow)', async () => {
    await droplet.startApp({ name: 'crash-start', mode: 'crash-at-start' });
    await droplet.startApp({ name: 'crash-loop', mode: 'crash-loop', env: { SAMPLE_CRASH_AFTER_MS: '300' } });
    const restarts = (name: string) => async () => {
      const proc = (await droplet.pm2.list()).find((p) => p.name === name);
      return proc && proc.pm2_env.restart_time >= 2 ? proc.pm2_env.restart_time : undefined;
    };
    expect(await waitFor('crash-at-start restarts', restarts('crash-start'))).toBeGreaterThanOrEqual(2);
    expect(await waitFor('crash-loop restarts', restarts('crash-loop'))).toBeGreaterThanOrEqual(2);
  });

  it('stops every process it started, by pid', async () => {
    const other = await Droplet.start({ postgres: true, sshd: true });
    await other.startApp();
    const pids = [...other.tracker.pids(), ...(await other.pm2.list()).map((p) => p.pid)];
    expect(pids.length).toBeGreaterThanOrEqual(4);
    expect(pids.every(isAlive)).toBe(true);
    await other.stop();
    expect(pids.filter(isAlive)).toEqual([]);
  });
});
