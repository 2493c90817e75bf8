/**
 * The runbook's legacy layout: <app-dir> holds the code, <app-dir>-previous the one before, pm2
 * runs <app-dir>/server.cjs. Rollback keeps those semantics, verified; a one-shot migration turns
 * it into releases/ without stopping the running app.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { runActionBundle, type ActionRun } from '../../sandbox/index.js';
import {
  hostInputs,
  openHostSession,
  sampleArtifact,
  sha,
  startDeployHost,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { sh } from '../../shared/src/ssh/shell.js';

const hosts: DeployHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.droplet.stop()));
});

/** Lays out <app-dir> (serving `current`) and <app-dir>-previous, and starts pm2 as the runbook did. */
async function legacyHost(current: number, previous?: number): Promise<DeployHost> {
  const h = await startDeployHost();
  hosts.push(h);
  const dirs: [string, number][] = [
    [h.appDir, current],
    ...(previous ? [[`${h.appDir}-previous`, previous] as [string, number]] : []),
  ];
  for (const [dir, n] of dirs) {
    const real = h.droplet.realPath(dir);
    mkdirSync(real, { recursive: true });
    const artifact = sampleArtifact(h, { sha: sha(n) });
    for (const file of ['server.cjs', 'sample-app.json'])
      copyFileSync(join(artifact, file), join(real, file));
    writeFileSync(join(real, '.env'), `PORT=${h.port}\n`);
  }
  // shared/ from the fixture does not belong to a legacy host.
  const { rmSync } = await import('node:fs');
  rmSync(h.droplet.realPath(`${h.appDir}/shared`), { recursive: true, force: true });
  const session = await openHostSession(h);
  await session.run(
    'start as the runbook does',
    sh`cd -- ${h.appDir} && pm2 start ${`${h.appDir}/server.cjs`} --name bunty-backend`,
  );
  session.close();
  for (
    let i = 0;
    i < 100 &&
    !(await fetch(h.healthUrl)
      .then((r) => r.ok)
      .catch(() => false));
    i++
  )
    await new Promise((r) => setTimeout(r, 50));
  return h;
}

async function served(h: DeployHost): Promise<string> {
  return ((await (await fetch(h.healthUrl)).json()) as { releaseId: string }).releaseId;
}

function rollback(h: DeployHost, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runActionBundle(
    'action-rollback',
    { ...hostInputs([h]), layout: 'legacy', ...extra },
    { secrets: [h.droplet.sshd?.privateKey ?? ''] },
  );
}

describe('legacy rollback', () => {
  let h: DeployHost;
  beforeAll(async () => {
    h = await legacyHost(2, 1);
  });

  it('moves the broken code aside, the previous into place, restarts and verifies', async () => {
    expect(await served(h)).toBe(sha(2));
    const run = await rollback(h);
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(await served(h)).toBe(sha(1));
    const www = h.droplet.realPath(h.appDir.replace(/\/[^/]+$/, ''));
    const kept = readdirSync(www).filter((name) => name.startsWith('bunty-backend-broken-'));
    expect(kept).toHaveLength(1);
    expect(existsSync(h.droplet.realPath(`${h.appDir}-previous`))).toBe(false);
    expect(JSON.parse(run.outputs['hosts-report'] ?? '[]')[0]).toMatchObject({
      outcome: 'rolled-back',
      health: { healthy: true },
    });
  });

  it('refuses when there is no previous directory, and changes nothing', async () => {
    const run = await rollback(h);
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /there is no .*bunty-backend-previous to roll back to\. Nothing was changed/,
    );
    expect(await served(h)).toBe(sha(1));
  });
});

describe('migration to releases/', () => {
  it('is refused without migrate-legacy, and changes nothing', async () => {
    const h = await legacyHost(5);
    const run = await runActionBundle(
      'action-deploy',
      {
        ...hostInputs([h]),
        'install-command': '',
        artifact: sampleArtifact(h, { sha: sha(6) }),
        sha: sha(6),
      },
      { secrets: [h.droplet.sshd?.privateKey ?? ''] },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /holds the runbook's legacy layout .*Nothing was changed.*migrate-legacy: true/,
    );
    expect(existsSync(h.droplet.realPath(`${h.appDir}/releases`))).toBe(false);
    expect(await served(h)).toBe(sha(5));
  });

  it('converts the host, deploys, and can roll back to the legacy code', async () => {
    const h = await legacyHost(7);
    const run = await runActionBundle(
      'action-deploy',
      {
        ...hostInputs([h]),
        'install-command': '',
        artifact: sampleArtifact(h, { sha: sha(8) }),
        sha: sha(8),
        'migrate-legacy': 'true',
      },
      { secrets: [h.droplet.sshd?.privateKey ?? ''] },
    );
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.outputs['previous-release']).toMatch(/^\d{8}T\d{6}Z-legacy$/);
    expect(await served(h)).toBe(sha(8));
    const root = h.droplet.realPath(h.appDir);
    expect(readlinkSync(join(root, 'current'))).toBe(`releases/${run.outputs.release}`);
    expect(readlinkSync(join(root, 'releases', run.outputs['previous-release'] as string, '.env'))).toBe(
      `${h.appDir}/shared/.env`,
    );
    expect(existsSync(join(root, 'shared', '.env'))).toBe(true);
    const www = h.droplet.realPath(h.appDir.replace(/\/[^/]+$/, ''));
    expect(readdirSync(www).filter((name) => name.startsWith('bunty-backend-legacy-'))).toHaveLength(1);

    const back = await runActionBundle('action-rollback', hostInputs([h]), {
      secrets: [h.droplet.sshd?.privateKey ?? ''],
    });
    expect(back.errors).toEqual([]);
    expect(back.outputs.release).toBe(run.outputs['previous-release']);
    expect(await served(h)).toBe(sha(7));
  });
});

describe('legacy deploy (layout: legacy)', () => {
  let h: DeployHost;
  const deploy = (n: number, mode?: 'unavailable') =>
    runActionBundle(
      'action-deploy',
      {
        ...hostInputs([h]),
        layout: 'legacy',
        'install-command': '',
        'max-attempts': '4',
        artifact: sampleArtifact(h, { sha: sha(n), ...(mode ? { mode } : {}) }),
        sha: sha(n),
      },
      { secrets: [h.droplet.sshd?.privateKey ?? ''] },
    );
  beforeAll(async () => {
    h = await legacyHost(11, 10);
  });

  it('deploys the runbook way: new code in <app-dir>, the old in -previous, verified', async () => {
    const run = await deploy(12);
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(await served(h)).toBe(sha(12));
    const previous = JSON.parse(
      readFileSync(h.droplet.realPath(`${h.appDir}-previous/sample-app.json`), 'utf8'),
    );
    expect(previous.releaseId).toBe(sha(11));
    expect(readFileSync(h.droplet.realPath(`${h.appDir}/.env`), 'utf8')).toBe(`PORT=${h.port}\n`);
  });

  it('rolls a broken one back: the failed code goes aside, -previous serves again', async () => {
    const run = await deploy(13, 'unavailable');
    expect(run.exitCode).toBe(1);
    expect(run.outputs['rolled-back']).toBe('true');
    expect(await served(h)).toBe(sha(12));
    const www = h.droplet.realPath(h.appDir.replace(/\/[^/]+$/, ''));
    expect(readdirSync(www).filter((name) => name.startsWith('bunty-backend-broken-'))).toHaveLength(1);
  });
});
