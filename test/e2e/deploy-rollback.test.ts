/**
 * action-deploy and action-rollback through their committed bundles, as the runner runs them,
 * against sandbox hosts: a real sshd (its own mount namespace, so every host has the same paths),
 * real pm2, the sample app. Every failed deploy must end with the previous release serving.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { runActionBundle, type ActionRun, type SampleRelease } from '../../sandbox/index.js';
import {
  hostInputs,
  sampleArtifact,
  sha,
  deployHostPool,
  type DeployHost,
} from '../../sandbox/deploy-host.js';

const pool = deployHostPool();
afterAll(() => pool.stopAll());
const host = () => pool.host();

function secretsOf(hosts: DeployHost[]): string[] {
  return hosts.map((h) => h.droplet.sshd?.privateKey ?? '');
}

function deploy(
  hosts: DeployHost[],
  n: number,
  extra: Record<string, string> = {},
  release: SampleRelease = { sha: sha(n) },
): Promise<ActionRun> {
  return runActionBundle(
    'action-deploy',
    {
      ...hostInputs(hosts),
      'install-command': '',
      artifact: sampleArtifact(hosts[0] as DeployHost, release),
      sha: release.sha,
      'max-attempts': '4',
      ...extra,
    },
    { secrets: secretsOf(hosts) },
  );
}

function rollback(hosts: DeployHost[], extra: Record<string, string> = {}): Promise<ActionRun> {
  return runActionBundle(
    'action-rollback',
    { ...hostInputs(hosts), ...extra },
    { secrets: secretsOf(hosts) },
  );
}

async function served(h: DeployHost): Promise<string> {
  const body = (await (await fetch(h.healthUrl)).json()) as { releaseId: string };
  return body.releaseId;
}

function current(h: DeployHost): string {
  return readlinkSync(h.droplet.realPath(`${h.appDir}/current`)).replace(/^releases\//, '');
}

function releases(h: DeployHost): string[] {
  return readdirSync(h.droplet.realPath(`${h.appDir}/releases`)).sort();
}

function isBad(h: DeployHost, id: string): boolean {
  return existsSync(h.droplet.realPath(`${h.appDir}/releases/${id}/BAD_RELEASE`));
}

describe('one host, deploy after deploy', () => {
  let h: DeployHost;
  let v1: string;
  let v2: string;
  beforeAll(async () => {
    h = await host();
  });

  it('deploys a first release, starts it under pm2 from current, and logs it', async () => {
    const run = await deploy([h], 1);
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    v1 = run.outputs.release as string;
    expect(v1).toMatch(/^\d{8}T\d{6}Z-0000001$/);
    expect(run.outputs).toMatchObject({ 'previous-release': '', 'rolled-back': 'false' });
    expect(current(h)).toBe(v1);
    expect(await served(h)).toBe(sha(1));
    expect(readFileSync(h.droplet.realPath(`${h.appDir}/releases/${v1}/REVISION`), 'utf8').trim()).toBe(
      sha(1),
    );
    expect(readlinkSync(h.droplet.realPath(`${h.appDir}/releases/${v1}/.env`))).toBe(
      `${h.appDir}/shared/.env`,
    );
    const log = readFileSync(h.droplet.realPath(`${h.appDir}/.runbook/releases.log`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.at(-1)).toMatchObject({ release: v1, sha: sha(1), outcome: 'deployed' });
    expect(JSON.parse(run.outputs['hosts-report'] ?? '[]')[0]).toMatchObject({
      outcome: 'deployed',
      pm2: 'started',
    });
    expect(run.summary).toContain('✅ deployed');
  });

  it('deploys a second release over it: pm2 runs the new code, not the old directory', async () => {
    const run = await deploy([h], 2);
    expect(run.exitCode).toBe(0);
    v2 = run.outputs.release as string;
    expect(run.outputs['previous-release']).toBe(v1);
    expect(JSON.parse(run.outputs['hosts-report'] ?? '[]')[0]).toMatchObject({ pm2: 'restarted' });
    expect(await served(h)).toBe(sha(2));
  });

  it.each([
    ['crashes at start', { mode: 'crash-at-start' as const }],
    ['answers 503', { mode: 'unavailable' as const }],
    ['crash-loops after 2 s', { mode: 'crash-loop' as const, crashAfterMs: 2000 }],
    ['serves the wrong version', { servesVersion: 'ffffffffffffffffffffffffffffffffffffffff' }],
  ])('rolls back a release that %s: the previous release serves, healthy', async (_what, behaviour) => {
    const n = 3 + Math.floor(Math.random() * 1000);
    const run = await deploy([h], n, { 'stabilization-window': '3s' }, { sha: sha(n), ...behaviour });
    expect(run.exitCode).toBe(1);
    expect(run.outputs['rolled-back']).toBe('true');
    const failed = run.outputs.release as string;
    expect(run.errors[0]).toMatch(
      new RegExp(
        `^deploy of ${sha(n)} failed on .*\\n- .*: switched to ${failed}, restored to ${v2}, verified healthy`,
      ),
    );
    expect(run.errors[0]).toMatch(new RegExp(`The failed release ${failed} is kept and marked bad`));
    expect(current(h)).toBe(v2);
    expect(await served(h)).toBe(sha(2));
    expect(isBad(h, failed)).toBe(true);
    expect(JSON.parse(run.outputs['hosts-report'] ?? '[]')[0]).toMatchObject({
      outcome: 'rolled-back',
      rollbackHealth: { healthy: true },
    });
  });

  it('rolls back on request to the previous good release, skipping bad ones; the healthy one it leaves is not marked bad', async () => {
    const run = await rollback([h]);
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.outputs).toMatchObject({ release: v1, 'from-release': v2 });
    expect(current(h)).toBe(v1);
    expect(await served(h)).toBe(sha(1));
    expect(isBad(h, v2)).toBe(false);
  });

  it('refuses to roll back when no good release is left, and changes nothing', async () => {
    const before = releases(h).map((id) => [id, isBad(h, id)]);
    const run = await rollback([h]);
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/there is no previous good release to roll back to .*Nothing was changed/);
    expect(current(h)).toBe(v1);
    expect(releases(h).map((id) => [id, isBad(h, id)])).toEqual(before);
  });

  it('refuses a named release that does not exist, naming the input', async () => {
    const run = await rollback([h], { release: '20200101T000000Z-abcdef0' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /^Input 'release': 20200101T000000Z-abcdef0 does not exist on .*Nothing was changed on any target/,
    );
  });

  it('keeps keep-releases releases and never removes current or the previous one', async () => {
    for (const n of [11, 12, 13]) expect((await deploy([h], n, { 'keep-releases': '3' })).exitCode).toBe(0);
    const ids = releases(h);
    expect(ids).toHaveLength(3);
    expect(ids.at(-1)).toBe(current(h));
    expect(await served(h)).toBe(sha(13));
  });
});

describe('first deploy that fails', () => {
  it('stops the app again: there was nothing serving before', async () => {
    const h = await host();
    const run = await deploy([h], 21, {}, { sha: sha(21), mode: 'unavailable' });
    expect(run.exitCode).toBe(1);
    expect(run.outputs['rolled-back']).toBe('true');
    expect(run.errors[0]).toMatch(
      /taken back out: nothing ran before it, so the app is stopped and removed from pm2 and no current is left/,
    );
    expect(run.errors[0]).toMatch(/every host is as the deploy found it/);
    await expect(fetch(h.healthUrl)).rejects.toThrow();
  });
});

// Two sandbox hosts share paths only through mount namespaces, which need root (CI runs as root).
const itWithNamespaces = process.getuid?.() === 0 ? it : it.skip;

describe('two hosts', () => {
  itWithNamespaces(
    'stops the rollout when the second host fails and returns the first to its previous release',
    async () => {
      const a = await host();
      const b = await host();
      expect((await deploy([a, b], 31)).exitCode).toBe(0);
      const before = [current(a), current(b)];
      // The same release, but something on host b breaks it there only.
      const { appendFileSync } = await import('node:fs');
      appendFileSync(b.droplet.realPath(`${b.appDir}/shared/.env`), `SAMPLE_FAIL_RELEASE=${sha(32)}\n`);
      const run = await deploy([a, b], 32);
      expect(run.exitCode).toBe(1);
      expect(run.outputs['rolled-back']).toBe('true');
      const report = JSON.parse(run.outputs['hosts-report'] ?? '[]');
      expect(report.map((r: { outcome: string }) => r.outcome)).toEqual(['rolled-back', 'rolled-back']);
      expect(report[1].error).toMatch(/status 503/);
      expect([current(a), current(b)]).toEqual(before);
      expect(await served(a)).toBe(sha(31));
    },
  );
});
