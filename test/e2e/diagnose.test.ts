/**
 * action-diagnose through its committed bundle against real parts: a sandbox host (sshd, pm2, the
 * sample app), a real PostgreSQL, a real redis-server, local HTTP servers for external APIs. Each
 * scenario is an incident the runbook describes, judged into the runbook's severity; nothing is ever
 * changed, and secrets never come back unredacted.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runActionBundle, type ActionRun } from '../../sandbox/index.js';
import {
  APP_NAME,
  deployHostPool,
  hostFreeKb,
  hostInputs,
  hostShell,
  mountSmallDisk,
  runningAppInputs,
  sampleArtifact,
  sha,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { startDatabaseHost, type DatabaseHost } from '../../sandbox/database-host.js';
import { startRedis } from '../../sandbox/redis.js';

const pool = deployHostPool();
let h: DeployHost;
let db: DatabaseHost;
let external: Server;
let externalUrl = '';
const JWT = 'jwt-secret-in-the-env-file-0123456789';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.sampletokenpayload';

beforeAll(async () => {
  [h, db] = await Promise.all([pool.host(), startDatabaseHost()]);
  writeFileSync(
    h.droplet.realPath(`${h.appDir}/shared/.env`),
    `PORT=${h.port}\nHOST=127.0.0.1\nJWT_SECRET=${JWT}\n`,
  );
  const deployed = await runActionBundle(
    'action-deploy',
    { ...hostInputs([h]), 'install-command': '', artifact: sampleArtifact(h, { sha: sha(1) }), sha: sha(1) },
    { secrets: [h.droplet.sshd?.privateKey ?? ''] },
  );
  expect(deployed.errors).toEqual([]);
  external = createServer((_req, res) => res.end('{"status":"ok"}'));
  await new Promise<void>((r) => external.listen(0, '127.0.0.1', r));
  externalUrl = `http://127.0.0.1:${(external.address() as AddressInfo).port}/status`;
}, 120_000);
afterAll(async () => {
  external?.close();
  await db?.droplet.stop();
  await pool.stopAll();
});

function inputs(extra: Record<string, string> = {}): Record<string, string> {
  const base = runningAppInputs([h]);
  return {
    hosts: base.hosts as string,
    'ssh-key': base['ssh-key'] as string,
    'known-hosts': base['known-hosts'] as string,
    'app-name': APP_NAME,
    'app-dir': h.appDir,
    'health-url': h.healthUrl,
    'disk-warn-percent': '100',
    timeout: '4s',
    ...extra,
  };
}

async function diagnose(extra: Record<string, string> = {}, secrets: string[] = []): Promise<ActionRun> {
  const run = await runActionBundle('action-diagnose', inputs(extra), {
    secrets: [JWT, TOKEN, h.droplet.sshd?.privateKey ?? '', db.postgres.password, ...secrets],
    timeoutMs: 90_000,
  });
  expect(run.exitCode).toBe(0);
  return run;
}

type Finding = { severity: string; where: string; check: string; why: string; next: string };
const findingsOf = (run: ActionRun) => JSON.parse(run.outputs.findings ?? '[]') as Finding[];

describe('action-diagnose', () => {
  it('a healthy system: OK, every check run, tables in the summary, the raw bundle written and redacted', async () => {
    const redis = await startRedis({ password: 'redis-pass-0123456789' });
    try {
      const { url } = await db.freshDatabase();
      const bundle = join(h.droplet.root, 'bundle-ok');
      const run = await diagnose(
        { 'database-url': url, 'redis-url': redis.url, 'external-urls': externalUrl, 'bundle-dir': bundle },
        [redis.password ?? ''],
      );
      // The load of this machine is the test suite's own (jest runs files in parallel): not the app's.
      const findings = findingsOf(run).filter((f) => f.check !== 'load');
      expect(findings).toEqual([]);
      if (findingsOf(run).length === 0) {
        expect(run.outputs.severity).toBe('OK');
        expect(run.summary).toContain('## Diagnosis: 🟢 OK');
      }
      for (const heading of ['### pm2', '### Hosts', '### Database', '### Redis', '### External APIs'])
        expect(run.summary).toContain(heading);
      expect(run.summary).toMatch(/PONG in \d+ ms/);
      const report = JSON.parse(run.outputs.report ?? '{}') as { notChecked: unknown[] };
      expect(report.notChecked).toEqual([]);
      const files = readdirSync(bundle, { recursive: true }).map(String);
      expect(files).toEqual(expect.arrayContaining(['report.json']));
      expect(files.some((f) => f.endsWith('pm2.txt'))).toBe(true);
      const everything = readdirSync(bundle, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
        .join('\n');
      for (const secret of [JWT, db.postgres.password, redis.password ?? ''])
        expect(everything).not.toContain(secret);
    } finally {
      await redis.stop();
    }
  }, 90_000);

  it('mode: status reads what is live, judges nothing, and a host that cannot be reached is a row saying so', async () => {
    const run = await diagnose({
      mode: 'status',
      hosts: `${inputs().hosts}\nroot@127.0.0.1:1`,
      'connect-attempts': '1',
      'health-url': h.healthUrl,
    });
    const [live, down] = JSON.parse(run.outputs.status ?? '[]') as Record<string, unknown>[];
    expect(live).toMatchObject({
      reachable: true,
      sha: sha(1),
      pm2: { status: 'online' },
      health: { healthy: true },
    });
    expect(down).toMatchObject({ host: 'root@127.0.0.1:1', reachable: false });
    expect(run.outputs.severity ?? '').toBe('');
    expect(run.summary).toMatch(/what is live/);
    expect(run.summary).toMatch(/root@127\.0\.0\.1:1 \| \*\*unreachable\*\*/);
  });

  it('logs holding a token, an env value and a URL password come back redacted', async () => {
    const list = JSON.parse(await h.droplet.pm2.command(['jlist'])) as {
      pm2_env: { pm_err_log_path: string };
    }[];
    const errLog = list[0]?.pm2_env.pm_err_log_path as string;
    appendFileSync(
      errLog,
      `Error: upstream refused Authorization: Bearer ${TOKEN}\nconfig JWT_SECRET=${JWT}\nconnect postgres://app:hunter2hunter2@db/bunty failed\n`,
    );
    const run = await diagnose({}, ['hunter2hunter2']);
    expect(run.summary).toContain('Bearer ***');
    expect(run.summary).toContain('postgres://app:***@db/bunty');
    expect(run.summary).toContain('config JWT_SECRET=***');
    expect(findingsOf(run)).toContainEqual(expect.objectContaining({ severity: 'P3', check: 'logs' }));
  }, 60_000);

  it('Redis through redis-cli on the host, its password through the environment', async () => {
    const redis = await startRedis({ password: 'redis-on-host-pass-42' });
    try {
      const run = await diagnose(
        { 'redis-cli-port': String(redis.port), 'redis-password': redis.password ?? '' },
        [redis.password ?? ''],
      );
      expect(run.summary).toMatch(/### Redis\n\nPONG in \d+ ms/);
      const wrong = await diagnose(
        { 'redis-cli-port': String(redis.port), 'redis-password': 'not-the-password' },
        ['not-the-password'],
      );
      expect(findingsOf(wrong)).toContainEqual(expect.objectContaining({ severity: 'P1', where: 'redis' }));
    } finally {
      await redis.stop();
    }
  }, 60_000);

  it('Redis down is a P1 finding "not reachable", not a crash', async () => {
    const redis = await startRedis();
    await redis.stop();
    const run = await diagnose({ 'redis-url': redis.url });
    expect(findingsOf(run)).toContainEqual(
      expect.objectContaining({
        severity: 'P1',
        where: 'redis',
        why: expect.stringContaining('not reachable'),
      }),
    );
  }, 60_000);

  it('a long query holding a lock that blocks another is P1, with who blocks whom; nothing is terminated', async () => {
    const { name, url } = await db.freshDatabase();
    const pg = await import('pg');
    const holder = new pg.default.Client({ connectionString: url });
    const waiter = new pg.default.Client({ connectionString: url });
    await Promise.all([holder.connect(), waiter.connect()]);
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT * FROM users FOR UPDATE');
      const waiting = waiter.query('UPDATE users SET balance = balance').catch((e: Error) => e);
      await new Promise((r) => setTimeout(r, 1500));
      const run = await diagnose({ 'database-url': url, 'long-query-after': '1s' });
      expect(findingsOf(run)).toContainEqual(expect.objectContaining({ severity: 'P1', check: 'locks' }));
      expect(run.outputs.severity).toBe('P1');
      const alive = await db.sql<{ n: string }>(
        name,
        "SELECT count(*)::text AS n FROM pg_stat_activity WHERE state = 'idle in transaction'",
      );
      expect(Number(alive[0]?.n)).toBeGreaterThanOrEqual(1);
      await holder.query('ROLLBACK');
      expect(await waiting).not.toBeInstanceOf(Error);
    } finally {
      await Promise.all([holder.end(), waiter.end()]);
    }
  }, 60_000);

  it('a slow /health is P2', async () => {
    await fetch(`http://127.0.0.1:${h.port}/__sandbox/behaviour`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'slow', slowMs: 2500 }),
    });
    try {
      const run = await diagnose();
      expect(run.outputs.severity).toBe('P2');
      expect(findingsOf(run)[0]).toMatchObject({
        check: 'health',
        why: expect.stringMatching(/^slow: \/health answered in \d+ ms/),
      });
    } finally {
      await fetch(`http://127.0.0.1:${h.port}/__sandbox/behaviour`, {
        method: 'POST',
        body: '{"mode":"healthy"}',
      });
    }
  }, 60_000);

  it('a stopped app is P0 (down), said first with the next step; diagnose starts nothing', async () => {
    await h.droplet.pm2.command(['stop', APP_NAME]);
    try {
      const run = await diagnose();
      expect(run.outputs.severity).toBe('P0');
      const findings = findingsOf(run);
      expect(findings[0]?.severity).toBe('P0');
      expect(findings).toContainEqual(
        expect.objectContaining({
          check: 'pm2',
          why: expect.stringContaining(`${APP_NAME} (pm2 id 0) is stopped`),
        }),
      );
      expect(findings).toContainEqual(
        expect.objectContaining({ check: 'health', why: expect.stringMatching(/^the API is down/) }),
      );
      const list = JSON.parse(await h.droplet.pm2.command(['jlist'])) as { pm2_env: { status: string } }[];
      expect(list[0]?.pm2_env.status).toBe('stopped');
    } finally {
      await h.droplet.pm2.command(['start', APP_NAME]);
    }
  }, 60_000);

  it('a crash-looping app (online between crashes) is P1 crash-looping', async () => {
    const crashy = await h.droplet.startApp({
      name: 'crashy',
      mode: 'crash-loop',
      env: { SAMPLE_CRASH_AFTER_MS: '300' },
    });
    try {
      for (
        const until = Date.now() + 15_000;
        Date.now() < until;
        await new Promise((r) => setTimeout(r, 200))
      ) {
        const list = JSON.parse(await h.droplet.pm2.command(['jlist'])) as {
          name: string;
          pm2_env: { restart_time: number };
        }[];
        if ((list.find((p) => p.name === 'crashy')?.pm2_env.restart_time ?? 0) >= 3) break;
      }
      const run = await diagnose({ 'app-name': 'crashy', 'health-url': crashy.healthUrl });
      expect(findingsOf(run)).toContainEqual(
        expect.objectContaining({
          check: 'pm2',
          why: expect.stringMatching(/crash-looping|is (errored|stopped|launching|waiting restart)/),
        }),
      );
    } finally {
      await h.droplet.pm2.command(['delete', 'crashy']);
    }
  }, 60_000);

  it('fail-on fails the step at that severity, after reporting', async () => {
    const run = await runActionBundle(
      'action-diagnose',
      inputs({ 'redis-url': 'redis://127.0.0.1:1/0', 'fail-on': 'P1' }),
      {
        secrets: [JWT],
      },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors.join('\n')).toMatch(/Diagnosis: P1 — redis: Redis not reachable/);
    expect(run.outputs.severity).toBe('P1');
  }, 60_000);

  (process.getuid?.() === 0 ? it : it.skip)(
    'a disk past the warning; a host whose pm2 is not running is P0 and its daemon is not started',
    async () => {
      const small = await pool.host();
      mountSmallDisk(small, 8);
      hostShell(
        small,
        'head -c "$2" /dev/zero > "$1/fill"',
        small.appDir,
        String((hostFreeKb(small) - 512) * 1024),
      );
      const base = runningAppInputs([small]);
      const run = await runActionBundle(
        'action-diagnose',
        {
          hosts: base.hosts as string,
          'ssh-key': base['ssh-key'] as string,
          'known-hosts': base['known-hosts'] as string,
          'disk-warn-percent': '85',
        },
        { secrets: [base['ssh-key'] as string] },
      );
      expect(run.exitCode).toBe(0);
      const findings = findingsOf(run);
      expect(findings).toContainEqual(
        expect.objectContaining({ check: 'disk', why: expect.stringContaining(`${small.appDir} is`) }),
      );
      expect(findings).toContainEqual(
        expect.objectContaining({
          severity: 'P0',
          check: 'pm2',
          why: expect.stringContaining('daemon is not running'),
        }),
      );
      expect(small.droplet.pm2.daemonPid()).toBeUndefined();
    },
    60_000,
  );

  it('hosts, database, Redis not given: "not checked" with why; an unreachable external API is P1', async () => {
    const run = await runActionBundle(
      'action-diagnose',
      { 'external-urls': 'http://127.0.0.1:1/status' },
      {},
    );
    expect(run.exitCode).toBe(0);
    const report = JSON.parse(run.outputs.report ?? '{}') as { notChecked: { check: string }[] };
    expect(report.notChecked.map((n) => n.check)).toEqual(['hosts', 'health', 'database', 'redis']);
    expect(findingsOf(run)).toEqual([
      expect.objectContaining({
        severity: 'P1',
        check: 'external',
        why: expect.stringContaining('not reachable'),
      }),
    ]);
  }, 30_000);

  it('refuses a bad input naming it', async () => {
    const run = await runActionBundle('action-diagnose', { 'redis-url': 'http://x', 'log-lines': '5' }, {});
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/^Input 'redis-url'/);
  });
});
