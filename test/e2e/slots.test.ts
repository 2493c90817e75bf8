/**
 * `traffic: nginx` (shared/src/releases/slots.ts, traffic.ts, ops/traffic-setup.ts) through the committed
 * bundles, on one sandbox host with a real nginx in front of a real pm2 in fork mode: traffic-setup
 * adopts the plain app; a deploy starts the new release in the idle slot, gates it on its own port
 * and moves nginx's upstream, with no request answered 502 under constant keep-alive load; a rollback to
 * the release the previous slot still runs only moves the upstream back. Faults: not set up (refused),
 * nginx -t failing (nothing moved), a slot port taken by another process (refused, named), the new
 * slot crashing after the switch (moved back, verified), sshd lost right after the switch. A rotation and an ops restart start afresh in
 * the other slot.
 */
import dotenv from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { runActionBundle, type ActionRun } from '../../sandbox/index.js';
import {
  APP_NAME,
  currentRelease,
  deployHostPool,
  killSshdAtSwitch,
  hostInputs,
  runningAppInputs,
  sampleArtifact,
  sha,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { freePort } from '../../sandbox/net.js';
import { startHostNginx, type SandboxNginx } from '../../sandbox/nginx.js';
import type { SampleRelease } from '../../sandbox/release-artifact.js';
import { startLoad } from '../../bench/lib/load.js';

const pool = deployHostPool();
let h: DeployHost;
let nginx: SandboxNginx;
let ports: [number, number];
let upstream: string;

beforeAll(async () => {
  h = await pool.host();
  nginx = await startHostNginx(h);
  ports = [await freePort(), await freePort()];
  upstream = `${h.droplet.hostRoot}/etc/nginx-sandbox/sites/${APP_NAME}-upstream.conf`;
  // The app as the runbook runs it: plain pm2, fork mode, behind nginx's proxy_pass to its port.
  const first = await runActionBundle(
    'action-deploy',
    { ...hostInputs([h]), 'install-command': '', artifact: sampleArtifact(h, { sha: sha(1) }), sha: sha(1) },
    { secrets: secrets() },
  );
  expect(first.errors).toEqual([]);
}, 90_000);
afterAll(async () => {
  await nginx?.stop();
  await pool.stopAll();
});

const secrets = () => [h.droplet.sshd?.privateKey ?? ''];

function traffic(base = hostInputs([h])): Record<string, string> {
  return {
    ...base,
    'health-url': `${nginx.url}/health`,
    traffic: 'nginx',
    'slot-ports': ports.join(','),
    'nginx-upstream-file': upstream,
    'nginx-test-command': nginx.testCommand,
    'nginx-reload-command': nginx.reloadCommand,
  };
}

const deploy = (n: number, extra: Record<string, string> = {}, release: Partial<SampleRelease> = {}) =>
  runActionBundle(
    'action-deploy',
    {
      ...traffic(),
      'install-command': '',
      artifact: sampleArtifact(h, { sha: sha(n), ...release }),
      sha: sha(n),
      ...extra,
    },
    { secrets: secrets(), timeoutMs: 90_000 },
  );

const served = async () =>
  ((await (await fetch(`${nginx.url}/health`)).json()) as { releaseId: string }).releaseId;

async function pm2Names(): Promise<string[]> {
  const list = JSON.parse(await h.droplet.pm2.command(['jlist'])) as {
    name: string;
    pm2_env: { status: string };
  }[];
  return list
    .filter((p) => p.pm2_env.status === 'online')
    .map((p) => p.name)
    .sort();
}

const CONNECTIONS = 10;

/**
 * The procedure under constant keep-alive load through nginx. No request may get a non-2xx answer
 * (nginx answering 502: a slot that was not listening when traffic reached it). A reset is counted
 * apart: nginx 1.22 (Debian's) closes its old workers' idle keep-alive connections at a reload, and a
 * request that a client sends onto one at that instant is reset before nginx reads it (nginx PR 437;
 * nginx ≥ 1.27.4's `keepalive_min_timeout` closes the race). At most one per connection per reload.
 */
async function underLoad(
  procedure: () => Promise<ActionRun>,
): Promise<{ run: ActionRun; non2xx: number; resets: number; requests: number }> {
  const load = startLoad(`${nginx.url}/api/ping`, { connections: CONNECTIONS, rate: 200 });
  await new Promise((r) => setTimeout(r, 300));
  const run = await procedure();
  await new Promise((r) => setTimeout(r, 500));
  const { non2xx, errors, requests } = await load.stop();
  return { run, non2xx, resets: errors, requests };
}

describe('traffic: nginx', () => {
  it('refuses before traffic-setup, naming what to run; nothing changed', async () => {
    const run = await deploy(9);
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toContain('is not there');
    expect(run.errors.join('\n')).toContain('traffic-setup');
    expect(await served()).toBe(sha(1));
  }, 60_000);

  it('traffic-setup writes the upstream for the app serving now and points the site at it', async () => {
    const run = await runActionBundle(
      'action-ops',
      {
        ...traffic(runningAppInputs([h])),
        operation: 'traffic-setup',
        'nginx-site': nginx.site,
        'site-url': `${nginx.url}/health`,
      },
      { secrets: secrets() },
    );
    expect(run.errors).toEqual([]);
    expect(readFileSync(h.droplet.realPath(nginx.site), 'utf8')).toContain(`proxy_pass http://${APP_NAME};`);
    expect(readFileSync(h.droplet.realPath(upstream), 'utf8')).toContain(`server 127.0.0.1:${h.port};`);
    expect(await served()).toBe(sha(1));
  }, 60_000);

  it('adopts the plain app into a slot, then deploys again: no failed request, the previous slot kept', async () => {
    const adopt = await underLoad(() => deploy(2));
    expect(adopt.run.errors).toEqual([]);
    expect(adopt.requests).toBeGreaterThan(100);
    expect(adopt.non2xx).toBe(0);
    expect(adopt.resets).toBeLessThanOrEqual(CONNECTIONS);
    expect(await served()).toBe(sha(2));
    expect(await pm2Names()).toEqual([`${APP_NAME}-blue`]);

    const next = await underLoad(() => deploy(3));
    expect(next.run.errors).toEqual([]);
    expect(next.non2xx).toBe(0);
    expect(next.resets).toBeLessThanOrEqual(CONNECTIONS);
    expect(await served()).toBe(sha(3));
    expect(await pm2Names()).toEqual([`${APP_NAME}-blue`, `${APP_NAME}-green`]);
    expect(readFileSync(h.droplet.realPath(upstream), 'utf8')).toContain(`server 127.0.0.1:${ports[1]};`);
  }, 150_000);

  it('rolls back by moving the upstream to the slot that still runs the previous release', async () => {
    const back = await underLoad(() =>
      runActionBundle('action-rollback', traffic(), { secrets: secrets(), timeoutMs: 60_000 }),
    );
    expect(back.run.errors).toEqual([]);
    expect(back.non2xx).toBe(0);
    expect(back.resets).toBeLessThanOrEqual(CONNECTIONS);
    expect(back.run.stdout).toContain('only the traffic moves');
    expect(await served()).toBe(sha(2));
    expect(readFileSync(h.droplet.realPath(upstream), 'utf8')).toContain(`server 127.0.0.1:${ports[0]};`);
  }, 90_000);

  it('nginx -t failing moves nothing: the live slot serves on, the new one is stopped', async () => {
    const before = readFileSync(h.droplet.realPath(upstream), 'utf8');
    const run = await deploy(4, {
      'nginx-test-command': 'echo "nginx: [emerg] unknown directive \\"bogus\\"" >&2; exit 1',
    });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /nginx -t refused .* nginx was NOT reloaded: bunty-backend-blue .* still serves/,
    );
    expect(run.errors[0]).toContain('unknown directive');
    expect(readFileSync(h.droplet.realPath(upstream), 'utf8')).toBe(before);
    expect(await served()).toBe(sha(2));
    expect(await pm2Names()).toEqual([`${APP_NAME}-blue`]);
  }, 90_000);

  it("a health-url that asks a slot's port directly (not through nginx) is refused before anything starts", async () => {
    const run = await deploy(7, { 'health-url': `http://127.0.0.1:${ports[0]}/health` });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toContain(`asks the app's port ${ports[0]} directly, not through nginx`);
    expect(await served()).toBe(sha(2));
    expect(await pm2Names()).toEqual([`${APP_NAME}-blue`]);
  }, 60_000);

  it('a slot port held by another process is refused, named, with nothing changed', async () => {
    const squatter: Server = createServer((s) => s.destroy());
    await new Promise<void>((r) => squatter.listen(ports[1], '127.0.0.1', r));
    try {
      const run = await deploy(5);
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toContain(`listens on port ${ports[1]}`);
      expect(await served()).toBe(sha(2));
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  }, 60_000);

  it('ops restart starts the live release afresh in the other slot, moves nginx, stops the old: no failed request', async () => {
    const restart = await underLoad(() =>
      runActionBundle(
        'action-ops',
        { ...traffic(runningAppInputs([h])), operation: 'restart' },
        { secrets: secrets(), timeoutMs: 60_000 },
      ),
    );
    expect(restart.run.errors).toEqual([]);
    expect(restart.non2xx).toBe(0);
    expect(restart.resets).toBeLessThanOrEqual(CONNECTIONS);
    expect(await served()).toBe(sha(2));
    expect(await pm2Names()).toEqual([`${APP_NAME}-green`]);
  }, 90_000);

  it('a rotation starts the app with the new secret in the other slot, then moves nginx: no failed request, never printed', async () => {
    const rotation = await underLoad(() =>
      runActionBundle(
        'action-rotate-secret',
        { ...traffic(runningAppInputs([h])), name: 'JWT_SECRET', 'verify-url': `${nginx.url}/keys` },
        { secrets: secrets(), timeoutMs: 90_000 },
      ),
    );
    expect(rotation.run.errors).toEqual([]);
    expect(rotation.non2xx).toBe(0);
    expect(rotation.resets).toBeLessThanOrEqual(CONNECTIONS);
    const value =
      dotenv.parse(readFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), 'utf8')).JWT_SECRET ?? '';
    expect(value.length).toBeGreaterThan(20);
    const keys = (await (await fetch(`${nginx.url}/keys`)).json()) as { JWT_SECRET: string };
    expect(keys.JWT_SECRET).toBe(createHash('sha256').update(value).digest('hex').slice(0, 8));
    // Every line but the ::add-mask:: ones, which the runner consumes.
    const shown = `${rotation.run.stdout}${rotation.run.stderr}`
      .split('\n')
      .filter((line) => !line.startsWith('::add-mask::'));
    expect(shown.join('\n')).not.toContain(value);
    expect(await pm2Names()).toEqual([`${APP_NAME}-blue`]);
  }, 120_000);

  it('a rotated value the app refuses at start: no traffic moved, the file put back, the live slot untouched', async () => {
    const envFile = h.droplet.realPath(`${h.appDir}/shared/.env`);
    const before = readFileSync(envFile, 'utf8');
    // The live slot started before this line: only a new start reads it (and refuses a short key).
    appendFileSync(envFile, 'SAMPLE_SECRET_MIN_LENGTH=40\n');
    const withMinimum = readFileSync(envFile, 'utf8');
    const TOO_SHORT = 'pasted-but-too-short-0123456789';
    try {
      const run = await runActionBundle(
        'action-rotate-secret',
        { ...traffic(runningAppInputs([h])), name: 'JWT_SECRET', value: TOO_SHORT, 'start-timeout': '3s' },
        { secrets: [...secrets(), TOO_SHORT], timeoutMs: 90_000 },
      );
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toMatch(/put back as found/);
      expect(run.stdout).toContain('the traffic never left it');
      expect(readFileSync(envFile, 'utf8')).toBe(withMinimum);
      expect(await served()).toBe(sha(2));
      expect(await pm2Names()).toEqual([`${APP_NAME}-blue`]);
    } finally {
      writeFileSync(envFile, before);
    }
  }, 120_000);

  it('a new slot that crashes after the switch: traffic moved back to the previous slot, verified', async () => {
    const run = await deploy(6, { 'stabilization-window': '2s' }, { mode: 'crash-loop', crashAfterMs: 1200 });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain('only the traffic moves');
    expect(await served()).toBe(sha(2));
    // The crash-looping release is not left running beside the live slot.
    expect(await pm2Names()).toEqual([`${APP_NAME}-blue`]);
    expect(readFileSync(h.droplet.realPath(upstream), 'utf8')).toContain(`server 127.0.0.1:${ports[0]};`);
  }, 90_000);

  it('sshd lost right after the switch: reached again within restore-deadline, traffic moved back, verified', async () => {
    const was = currentRelease(h);
    const fault = killSshdAtSwitch(h, was, 3000);
    const run = await deploy(8, { 'restore-deadline': '30s' }, { mode: 'crash-loop', crashAfterMs: 1500 });
    await fault;
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/connection lost|reaching it again/);
    expect(run.outputs['rolled-back']).toBe('true');
    expect(currentRelease(h)).toBe(was);
    expect(await served()).toBe(sha(2));
    expect(readFileSync(h.droplet.realPath(upstream), 'utf8')).toContain(`server 127.0.0.1:${ports[0]};`);
    expect(existsSync(h.droplet.realPath(`${h.appDir}/.runbook/deploy.lock`))).toBe(false);
  }, 120_000);
});
