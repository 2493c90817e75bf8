/**
 * The fleet layer at twenty hosts, through the committed bundles: deploy in batches after a canary
 * (one SSH connection per host per run), and the faults at scale — one host unreachable at the start,
 * one failing its health gate in the third batch, sshd killed on one host mid-rotation, the run
 * cancelled mid-batch. Twenty real sandbox hosts (sshd, pm2, the sample app each), shared by the file.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { freePort, runActionBundle, type ActionRun, type SampleRelease } from '../../sandbox/index.js';
import type { RunOptions } from '../../sandbox/action-runner.js';
import {
  hostInputs,
  runningAppInputs,
  sampleArtifact,
  sha,
  startDeployHosts,
  stopDeployHosts,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { waitFor } from '../helpers/wait-for.js';
import { FakeGithub, scopePath } from '../../sandbox/fake-github.js';

const COUNT = 20;
let hosts: DeployHost[] = [];
beforeAll(async () => {
  hosts = await startDeployHosts(COUNT);
}, 120_000);
afterAll(() => stopDeployHosts(hosts));

const secrets = () => hosts.map((h) => h.droplet.sshd?.privateKey ?? '');
const current = (h: DeployHost) =>
  readlinkSync(h.droplet.realPath(`${h.appDir}/current`)).replace(/^releases\//, '');
const envOf = (h: DeployHost) => {
  try {
    return readFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), 'utf8');
  } catch {
    return ''; // the droplet is gone (a wait outliving its test)
  }
};
const logins = () => hosts.map((h) => h.droplet.sshd?.logins() ?? 0);

async function served(h: DeployHost): Promise<string> {
  const body = (await (await fetch(h.healthUrl)).json()) as { releaseId: string };
  return body.releaseId;
}

function deploy(
  n: number,
  extra: Record<string, string> = {},
  options: Pick<RunOptions, 'onSpawn'> = {},
  release: SampleRelease = { sha: sha(n) },
): Promise<ActionRun> {
  return runActionBundle(
    'action-deploy',
    {
      ...hostInputs(hosts),
      'install-command': '',
      artifact: sampleArtifact(hosts[0] as DeployHost, release),
      sha: release.sha,
      // Twenty apps starting on two cores: a health gate of ~6 s, so that only a broken release fails it.
      'max-attempts': '40',
      'stabilization-window': '300ms',
      'max-parallel': '5',
      ...extra,
    },
    { secrets: secrets(), timeoutMs: 240_000, ...options },
  );
}

describe('twenty hosts', () => {
  it('deploys to all of them, the canary alone first, then batches of 5, one SSH connection per host', async () => {
    const before = logins();
    const run = await deploy(1);
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    const after = logins();
    expect(after.map((n, i) => n - (before[i] ?? 0))).toEqual(hosts.map(() => 1));
    expect(run.stdout).toMatch(/switch one canary host first, alone, then batches of 5/);
    // The canary's switch ends before any other host's begins.
    const switches = [...run.stdout.matchAll(/::group::(\S+): switch to/g)].map((m) => m[1]);
    expect(switches[0]).toBe(hosts[0]?.host);
    expect(await Promise.all(hosts.map(served))).toEqual(hosts.map(() => sha(1)));
    expect(JSON.parse(run.outputs['hosts-report'] ?? '[]')).toHaveLength(COUNT);
  }, 240_000);

  it('one host of twenty unreachable at the start: it is named and nothing changes anywhere', async () => {
    const was = hosts.map(current);
    const port = await freePort();
    const run = await runActionBundle(
      'action-deploy',
      {
        ...hostInputs(hosts),
        hosts: [...hosts.map((h) => h.host), `${hosts[0]?.droplet.sshd?.user}@127.0.0.1:${port}`].join('\n'),
        'health-url': [...hosts.map((h) => h.healthUrl), 'http://127.0.0.1:9/health'].join('\n'),
        'install-command': '',
        artifact: sampleArtifact(hosts[0] as DeployHost, { sha: sha(2) }),
        sha: sha(2),
        'max-parallel': '5',
      },
      { secrets: secrets() },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toContain(`127.0.0.1:${port}`);
    expect(hosts.map(current)).toEqual(was);
    expect(await Promise.all(hosts.map(served))).toEqual(hosts.map(() => sha(1)));
  }, 120_000);

  it('one host failing its health gate in the third batch: every switched host goes back, verified', async () => {
    const was = hosts.map(current);
    const bad = hosts[12] as DeployHost; // canary 0, batches 1-5, 6-10, 11-15: the third batch
    const env = bad.droplet.realPath(`${bad.appDir}/shared/.env`);
    const original = readFileSync(env, 'utf8');
    appendFileSync(env, `SAMPLE_FAIL_RELEASE=${sha(3)}\n`);
    try {
      const run = await deploy(3);
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toMatch(new RegExp(`failed on ${bad.host.replace(/[.]/g, '\\.')}`));
      const report = JSON.parse(run.outputs['hosts-report'] ?? '[]') as {
        host: string;
        switched: boolean;
        restored: boolean;
        verified: boolean;
      }[];
      const switched = report.filter((r) => r.switched);
      // The canary and the first two batches switched; the third batch is under way.
      expect(switched.length).toBeGreaterThanOrEqual(11);
      expect(switched.length).toBeLessThanOrEqual(16);
      for (const r of switched) expect(r).toMatchObject({ restored: true, verified: true });
      expect(report.slice(16).every((r) => !r.switched)).toBe(true);
      expect(hosts.map(current)).toEqual(was);
      expect(await Promise.all(hosts.map(served))).toEqual(hosts.map(() => sha(1)));
      expect(run.summary).toContain('| host | outcome |');
    } finally {
      writeFileSync(env, original);
    }
  }, 240_000);

  it('cancelled mid-batch: the batch under way is put back with every host before it, and no more start', async () => {
    const was = hosts.map(current);
    let signalled = false;
    const run = await deploy(
      4,
      {},
      {
        onSpawn: (child) =>
          void waitFor(
            'the second batch to switch',
            () => current(hosts[3] as DeployHost) !== was[3],
            120_000,
          ).then(() => {
            signalled = true;
            child.kill('SIGINT');
          }),
      },
    );
    expect(signalled).toBe(true);
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/cancelled \(SIGINT\) while switching/);
    expect(hosts.map(current)).toEqual(was);
    expect(await Promise.all(hosts.map(served))).toEqual(hosts.map(() => sha(1)));
    const report = JSON.parse(run.outputs['hosts-report'] ?? '[]') as { switched: boolean }[];
    expect(report.slice(11).every((r) => !r.switched)).toBe(true);
  }, 240_000);

  it('sshd killed on one host mid-rotation: every changed host put back, GitHub untouched', async () => {
    const victim = hosts[7] as DeployHost;
    const envs = hosts.map((h) => readFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), 'utf8'));
    hosts.forEach((h) =>
      appendFileSync(
        h.droplet.realPath(`${h.appDir}/shared/.env`),
        'JWT_SECRET=old-secret-value-0123456789\n',
      ),
    );
    let killed = false;
    const github = await FakeGithub.start();
    github.known.add(scopePath.repository('bunty', 'api'));
    const run = await runActionBundle(
      'action-rotate-secret',
      {
        ...runningAppInputs(hosts),
        name: 'JWT_SECRET',
        'env-file': `${hosts[0]?.appDir}/shared/.env`,
        'max-parallel': '5',
        'restore-deadline': '3s',
        'stabilization-window': '300ms',
        'github-token': github.token,
        'github-repository': 'bunty/api',
      },
      {
        secrets: [...secrets(), 'old-secret-value-0123456789', github.token],
        env: { GITHUB_API_URL: github.url },
        timeoutMs: 240_000,
        onSpawn: () =>
          void waitFor(
            'the first batch rotated',
            () => envOf(hosts[1] as DeployHost).includes('JWT_SECRET_PREVIOUS'),
            120_000,
          ).then(() => {
            killed = true;
            victim.droplet.sshd?.kill();
          }),
      },
    );
    try {
      expect(killed).toBe(true);
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toContain(victim.host);
      const report = JSON.parse(run.outputs.report ?? '{}') as {
        github: { updated: boolean };
        hosts: { host: string; outcome: string }[];
      };
      expect(report.github.updated).toBe(false);
      expect(github.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
      // Every host that changed is back as found (the victim aside, which could not be reached).
      for (const [i, h] of hosts.entries()) {
        if (h === victim) continue;
        expect(readFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), 'utf8')).toContain(
          'JWT_SECRET=old-secret-value-0123456789',
        );
        expect(readFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), 'utf8')).not.toContain(
          'JWT_SECRET_PREVIOUS',
        );
        expect(['untouched', 'reverted']).toContain(report.hosts[i]?.outcome);
      }
    } finally {
      await github.stop();
      await victim.droplet.sshd?.restart();
      hosts.forEach((h, i) => writeFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), envs[i] ?? ''));
    }
  }, 240_000);
});
