/**
 * What must hold when things go wrong around a deploy: a lost SSH connection, two deploys at once,
 * a host key that does not match, hostile input values, bad inputs, a dry run.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlive, runActionBundle, type ActionRun } from '../../sandbox/index.js';
import {
  hostInputs,
  sampleArtifact,
  sha,
  startDeployHost,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { hostileStrings } from '../helpers/hostile-strings.js';
import { waitFor } from '../helpers/wait-for.js';

let h: DeployHost;
let other: DeployHost;
let baseline: string;

beforeAll(async () => {
  [h, other] = await Promise.all([startDeployHost(), startDeployHost()]);
  const first = await deploy(h, 1);
  expect(first.exitCode).toBe(0);
  baseline = first.outputs.release as string;
});
afterAll(async () => {
  await Promise.all([h?.droplet.stop(), other?.droplet.stop()]);
});

function deploy(
  target: DeployHost,
  n: number,
  extra: Record<string, string> = {},
  env: Record<string, string> = {},
  artifact?: string,
): Promise<ActionRun> {
  return runActionBundle(
    'action-deploy',
    {
      ...hostInputs([target]),
      'install-command': '',
      artifact: artifact ?? sampleArtifact(target, { sha: sha(n) }),
      sha: sha(n),
      ...extra,
    },
    { secrets: [target.droplet.sshd?.privateKey ?? ''], env },
  );
}

async function served(target: DeployHost): Promise<string> {
  return ((await (await fetch(target.healthUrl)).json()) as { releaseId: string }).releaseId;
}

function current(target: DeployHost): string {
  return readlinkSync(target.droplet.realPath(`${target.appDir}/current`)).replace(/^releases\//, '');
}

describe('SSH connection killed mid-deploy', () => {
  it('a dropped connection: stops the install, reconnects to mark its release abandoned and frees the lock', async () => {
    const releasesDir = h.droplet.realPath(`${h.appDir}/releases`);
    const pidFile = `${h.droplet.hostRoot}/install.pid`;
    const running = deploy(h, 2, { 'install-command': `echo $$ > ${pidFile}; sleep 30` });
    await waitFor('the install to start', () => existsSync(h.droplet.realPath(pidFile)));
    const installPid = Number(readFileSync(h.droplet.realPath(pidFile), 'utf8'));
    // Kill every per-connection sshd process: the deploy's connection drops mid-install; sshd still listens.
    execFileSync('pkill', ['-KILL', '-P', String(h.droplet.sshd?.pid)]);
    const killed = await running;
    expect(killed.exitCode).toBe(1);
    expect(killed.errors[0]).toMatch(/^install failed on .*: the connection to .* was lost during it/);
    expect(current(h)).toBe(baseline);
    expect(await served(h)).toBe(sha(1));
    // The install does not run on unsupervised once its connection is gone.
    await waitFor('the cut-off install to end', () => !isAlive(installPid), 5000);
    expect(existsSync(h.droplet.realPath(`${h.appDir}/.runbook/deploy.lock`))).toBe(false);
    const halfMade = readdirSync(releasesDir).filter((id) => id.endsWith(sha(2).slice(0, 7)));
    expect(halfMade).toHaveLength(1);
    expect(existsSync(`${releasesDir}/${halfMade[0]}/BAD_RELEASE`)).toBe(true);
    rmSync(h.droplet.realPath(pidFile));
  });

  it('sshd gone for good: a live heartbeat refuses the next run; once it is past its grace the lease is taken over and the half-made release marked abandoned', async () => {
    const releasesDir = h.droplet.realPath(`${h.appDir}/releases`);
    const before = readdirSync(releasesDir);
    const running = deploy(h, 3, {
      'install-command': 'sleep 30',
      'lock-ttl': '6s',
      'connect-attempts': '1',
    });
    await waitFor('the half-made release', () => readdirSync(releasesDir).length > before.length);
    await new Promise((r) => setTimeout(r, 300));
    h.droplet.sshd?.kill();
    const killed = await running;
    expect(killed.exitCode).toBe(1);
    expect(killed.annotations.map((a) => a.message).join('\n')).toMatch(
      /could not release the deploy lock .* next run takes it over 6 s from now/,
    );
    await h.droplet.sshd?.restart();
    expect(existsSync(h.droplet.realPath(`${h.appDir}/.runbook/deploy.lock`))).toBe(true);
    const halfMade = readdirSync(releasesDir).filter((id) => !before.includes(id));

    const blocked = await deploy(h, 4);
    expect(blocked.errors[0]).toMatch(
      /^Deploy refused on .*: .* holds the deploy lock and is alive \(heartbeat \d+ s ago\)\. Nothing was changed/,
    );

    await new Promise((r) => setTimeout(r, 6500));
    const later = await deploy(h, 4);
    expect(later.errors).toEqual([]);
    expect(later.exitCode).toBe(0);
    const warnings = later.annotations
      .filter((a) => a.level === 'warning')
      .map((a) => a.message)
      .join('\n');
    expect(warnings).toMatch(
      /taking over the deploy lock of a dead run — deploy in a run outside GitHub Actions.*heartbeat stopped \d+ s ago[\s\S]*was left half-made by that run; marking it abandoned/,
    );
    expect(await served(h)).toBe(sha(4));
    expect(existsSync(`${releasesDir}/${halfMade[0]}/BAD_RELEASE`)).toBe(true);
    baseline = later.outputs.release as string;
  });
});

describe('two deploys at once', () => {
  it('lets one through and refuses the other, naming the holder', async () => {
    const runAs = (n: number, runId: string, actor: string) =>
      deploy(
        h,
        n,
        {},
        {
          GITHUB_RUN_ID: runId,
          GITHUB_ACTOR: actor,
          GITHUB_WORKFLOW: 'deploy',
          GITHUB_SERVER_URL: 'https://github.com',
          GITHUB_REPOSITORY: 'bunty/api',
        },
      );
    const [a, b] = await Promise.all([runAs(4, '111', 'alice'), runAs(5, '222', 'bob')]);
    const [winner, loser] = a.exitCode === 0 ? [a, b] : [b, a];
    expect(winner.exitCode).toBe(0);
    expect(loser.exitCode).toBe(1);
    expect(loser.errors[0]).toMatch(
      /^Deploy refused on .*: deploy run (111|222) attempt 1 by (alice|bob) \(https:\/\/github\.com\/bunty\/api\/actions\/runs\/(111|222)\) holds the deploy lock and is alive.*Nothing was changed/,
    );
    expect(await served(h)).toBe(winner === a ? sha(4) : sha(5));
  });
});

describe('host keys', () => {
  it('refuses a host whose key does not match, before any command, naming both fingerprints', async () => {
    const inputs = {
      ...hostInputs([other]),
      'known-hosts': (h.droplet.sshd?.knownHosts ?? '').replace(
        /^\S+/,
        `[127.0.0.1]:${other.droplet.sshd?.port}`,
      ),
    };
    const run = await runActionBundle(
      'action-deploy',
      { ...inputs, 'install-command': '', artifact: sampleArtifact(other, { sha: sha(9) }), sha: sha(9) },
      { secrets: [other.droplet.sshd?.privateKey ?? ''] },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toContain(
      `it offered ${other.droplet.sshd?.hostFingerprint}, expected ${h.droplet.sshd?.hostFingerprint}`,
    );
    expect(run.errors[0]).toMatch(/No command was run/);
    expect(existsSync(other.droplet.realPath(`${other.appDir}/.runbook`))).toBe(false);
  });
});

describe('hostile values in inputs that reach the remote shell', () => {
  const canaryDir = mkdtempSync(join(tmpdir(), 'runbook-canary-'));
  afterAll(() => rmSync(canaryDir, { recursive: true, force: true }));
  const canary = join(canaryDir, 'canary');
  const corpus = hostileStrings(canary);

  it('never run as code in app-dir (dry runs through lock, state and plan)', async () => {
    const outcomes = { planned: 0, refused: 0 };
    for (const value of corpus) {
      const run = await deploy(other, 7, {
        'app-dir': `${other.droplet.hostRoot}/inj/${value}`,
        'dry-run': 'true',
      });
      if (run.exitCode === 0) outcomes.planned++;
      else {
        expect(run.errors[0]).toMatch(/^Input 'app-dir'/);
        outcomes.refused++;
      }
    }
    expect(existsSync(canary)).toBe(false);
    expect(outcomes.planned).toBeGreaterThanOrEqual(10);
  }, 120_000);

  it('never run as code in a real deploy through app-dir, app-script and linked-files', async () => {
    // No white space: pm2 would run such a path through bash -c, so app-dir refuses it (tested above).
    const hostile = `it's$(touch\${IFS}${canary})\`touch\${IFS}${canary}\`;touch\${IFS}${canary};"x"&&*`;
    const appDir = `${other.droplet.hostRoot}/var/www/${hostile}`;
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(other.droplet.realPath(`${appDir}/shared`), { recursive: true });
    writeFileSync(other.droplet.realPath(`${appDir}/shared/.env`), `PORT=${other.port}\n`);
    const artifact = sampleArtifact(other, { sha: sha(8) });
    const script = `srv$(touch\${IFS}${canary.replace(/\//g, '_')})'"x.cjs`;
    copyFileSync(join(artifact, 'server.cjs'), join(artifact, script));
    const run = await deploy(
      other,
      8,
      {
        'app-dir': appDir,
        'app-script': script,
        'linked-files': `.env\nconf/$(touch ${canary.replace(/\//g, '_')}).json`,
      },
      {},
      artifact,
    );
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(await served(other)).toBe(sha(8));
    expect(existsSync(canary)).toBe(false);
    expect(readdirSync(canaryDir)).toEqual([]);
  });
});

describe('bad inputs', () => {
  it.each([
    [{ hosts: 'not a host' }, /^Input 'hosts': "not a host" is not user@host\[:port\]/],
    [{ 'app-dir': 'relative/path' }, /^Input 'app-dir': "relative\/path" is not an absolute directory path/],
    [{ 'app-dir': '/var/www/../etc' }, /^Input 'app-dir': /],
    [{ 'app-name': '42' }, /^Input 'app-name': "42" is not a pm2 app name/],
    [{ sha: 'main' }, /^Input 'sha': "main" is not a git sha/],
    [{ artifact: '/nonexistent/build' }, /^Input 'artifact': "\/nonexistent\/build" does not exist/],
    [{ 'known-hosts': '', 'host-fingerprint': '' }, /^Input 'known-hosts': or host-fingerprint is required/],
    [
      { 'host-fingerprint': 'SHA256:short' },
      /^Input 'host-fingerprint': "SHA256:short" is not a SHA256 fingerprint/,
    ],
    [{ 'ssh-key': 'not a key' }, /^Input 'ssh-key': is not a private key/],
    [{ 'health-url': 'http://a/health\nhttp://b/health' }, /^Input 'health-url': gives 2 URLs for 1 hosts/],
    [{ 'keep-releases': '1' }, /^Input 'keep-releases': 1 is out of range/],
    [
      { 'linked-files': '../etc/passwd' },
      /^Input 'linked-files': "..\/etc\/passwd" must be a path inside the release/,
    ],
    [{ 'pm2-exec-mode': 'turbo' }, /^Input 'pm2-exec-mode': "turbo" is not one of: fork, cluster/],
    [{ 'stabilization-window': 'soon' }, /^Input 'stabilization-window': "soon" is not a duration/],
  ])('%j names the input and touches no host', async (bad, message) => {
    const lockDir = other.droplet.realPath(`${other.droplet.hostRoot}/var/www/untouched`);
    const run = await deploy(other, 6, { 'app-dir': `${other.droplet.hostRoot}/var/www/untouched`, ...bad });
    expect(run.exitCode).toBe(1);
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(message);
    expect(run.errors[0]).toMatch(/Nothing was changed on any target/);
    expect(existsSync(lockDir)).toBe(false);
  });
});

describe('dry run', () => {
  it('prints the plan and changes nothing that serves', async () => {
    const before = current(h);
    const run = await deploy(h, 10, { 'dry-run': 'true' });
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(
      /switch current from .* to \d{8}T\d{6}Z-000000a; pm2 reload\/restart bunty-backend; verify http/,
    );
    expect(current(h)).toBe(before);
    expect(JSON.parse(run.outputs['hosts-report'] ?? '[]')[0]).toMatchObject({ outcome: 'planned' });
  });
});
