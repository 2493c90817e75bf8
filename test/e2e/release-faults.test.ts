/**
 * Deploy and rollback under the faults of an unlucky on-call night, through the committed bundles
 * on real sandbox hosts: sshd killed by pid at the switch and started again on its port, a dead
 * run's lease, a release directory deleted by hand, a half-installed release, a small tmpfs that
 * fills up, a release that never binds its port, one host written twice, a symlinked releases/.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { runActionBundle, type ActionRun, type SampleRelease } from '../../sandbox/index.js';
import {
  hostFreeKb,
  hostInputs,
  hostShell,
  killSshdAtSwitch,
  mountSmallDisk,
  sampleArtifact,
  sha,
  deployHostPool,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { startOutageProbe } from '../../bench/lib/outage.js';
import { waitFor } from '../helpers/wait-for.js';
import { garbledKey } from '../helpers/garbled-key.js';

const isRoot = process.getuid?.() === 0;
const pool = deployHostPool();
afterAll(() => pool.stopAll());
const host = () => pool.host();

const secretsOf = (h: DeployHost) => [h.droplet.sshd?.privateKey ?? ''];

function deploy(
  h: DeployHost,
  n: number,
  extra: Record<string, string> = {},
  release: SampleRelease = { sha: sha(n) },
  artifact?: string,
): Promise<ActionRun> {
  return runActionBundle(
    'action-deploy',
    {
      ...hostInputs([h]),
      'install-command': '',
      artifact: artifact ?? sampleArtifact(h, release),
      sha: release.sha,
      'max-attempts': '4',
      ...extra,
    },
    { secrets: secretsOf(h), timeoutMs: 120_000 },
  );
}

function rollback(h: DeployHost, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runActionBundle(
    'action-rollback',
    { ...hostInputs([h]), ...extra },
    { secrets: secretsOf(h), timeoutMs: 120_000 },
  );
}

async function served(h: DeployHost): Promise<string> {
  return ((await (await fetch(h.healthUrl)).json()) as { releaseId: string }).releaseId;
}

const current = (h: DeployHost) =>
  readlinkSync(h.droplet.realPath(`${h.appDir}/current`)).replace(/^releases\//, '');
const lockExists = (h: DeployHost) => existsSync(h.droplet.realPath(`${h.appDir}/.runbook/deploy.lock`));
const hostsReport = (run: ActionRun) =>
  JSON.parse(run.outputs['hosts-report'] ?? '[]')[0] as Record<string, unknown>;
const releaseLog = (h: DeployHost) =>
  readFileSync(h.droplet.realPath(`${h.appDir}/.runbook/releases.log`), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { release: string; outcome: string });

describe('1. SSH lost at the switch', () => {
  it('rides out an sshd restart, restores the previous release, marks the failed one bad and frees the lock', async () => {
    const h = await host();
    const good = await deploy(h, 1);
    expect([good.errors, good.stderr.slice(-2000)]).toEqual([[], '']);
    const v1 = good.outputs.release as string;
    const fault = killSshdAtSwitch(h, v1, 5000);
    const run = await deploy(h, 2, { 'restore-deadline': '30s' }, { sha: sha(2), mode: 'unavailable' });
    await fault;
    expect(run.exitCode).toBe(1);
    const failed = run.outputs.release as string;
    expect(run.outputs['rolled-back']).toBe('true');
    expect(hostsReport(run)).toMatchObject({
      outcome: 'rolled-back',
      switched: true,
      restored: true,
      verified: true,
      reachable: true,
    });
    expect(run.errors[0]).toMatch(new RegExp(`switched to ${failed}, restored to ${v1}, verified healthy`));
    expect(run.errors[0]).not.toMatch(/No host had switched/);
    expect(run.stdout).toMatch(/connection lost; reconnecting \(for up to 30 s\)/);
    expect(current(h)).toBe(v1);
    expect(await served(h)).toBe(sha(1));
    expect(existsSync(h.droplet.realPath(`${h.appDir}/releases/${failed}/BAD_RELEASE`))).toBe(true);
    expect(lockExists(h)).toBe(false);
    // The way back is open at once.
    const again = await deploy(h, 3);
    expect(again.exitCode).toBe(0);
  }, 120_000);

  it('says first, when a switched host stays unreachable, that production may serve the failed release, and how to fix it', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const v1 = current(h);
    const fault = killSshdAtSwitch(h, v1, 0);
    const run = await deploy(
      h,
      2,
      { 'restore-deadline': '3s', 'lock-ttl': '2s' },
      { sha: sha(2), mode: 'unavailable' },
    );
    await fault;
    expect(run.exitCode).toBe(1);
    expect(run.outputs['rolled-back']).toBe('false');
    expect(hostsReport(run)).toMatchObject({ outcome: 'unreachable', reachable: false, restored: false });
    const [first] = (run.errors[0] ?? '').split('\n');
    expect(first).toMatch(
      /^PRODUCTION MAY STILL SERVE THE FAILED RELEASE on .*: could not reach it for 3 s \(restore-deadline\)/,
    );
    expect(run.errors[0]).toMatch(/UNREACHABLE — switched to \S+, not restored, state unknown/);
    expect(run.errors[0]).toMatch(/npm run runbook -- rollback --hosts \S+ --release \S+ --app-dir/);
    expect(run.summary).toContain('🚨 UNREACHABLE');

    // The host comes back; the rollback takes the dead deploy's lease over as soon as its heartbeat
    // is past the grace that run declared, waiting for it instead of refusing.
    await h.droplet.sshd?.restart();
    const back = await rollback(h);
    expect(back.errors).toEqual([]);
    expect(back.exitCode).toBe(0);
    expect(back.annotations.map((a) => a.message).join('\n')).toMatch(
      /taking over the deploy lock of a dead run — deploy in/,
    );
    expect(await served(h)).toBe(sha(1));
  }, 120_000);
});

describe('2. heartbeat leases', () => {
  it('never overtakes a live deploy that outlasts lock-ttl; a rollback waits for it, then goes back', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const long = deploy(h, 2, { 'install-command': 'sleep 5', 'lock-ttl': '2s' });
    await waitFor('the second deploy to lock', () => lockExists(h));
    await new Promise((r) => setTimeout(r, 3000));
    const second = await deploy(h, 3, { 'lock-ttl': '2s' });
    expect(second.exitCode).toBe(1);
    expect(second.errors[0]).toMatch(
      /^Deploy refused on .*holds the deploy lock and is alive \(heartbeat [0-2] s ago\)/,
    );
    const waiting = rollback(h, { 'lock-wait': '60s' });
    const first = await long;
    expect(first.exitCode).toBe(0);
    const back = await waiting;
    expect(back.exitCode).toBe(0);
    expect(back.stdout).toMatch(/holds the deploy lock \(heartbeat \d+ s ago\); waiting up to 60 s/);
    expect(await served(h)).toBe(sha(1));
  }, 120_000);

  it('a refused rollback says rollback', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    expect((await deploy(h, 2)).exitCode).toBe(0);
    const long = deploy(h, 3, { 'install-command': 'sleep 3' });
    await waitFor('the deploy to lock', () => lockExists(h));
    const refused = await rollback(h, { 'lock-wait': '0s' });
    expect(refused.exitCode).toBe(1);
    expect(refused.errors[0]).toMatch(
      /^Rollback refused on .*: deploy in .* holds the deploy lock and is alive/,
    );
    expect(refused.errors[0]).toMatch(/run the rollback again/);
    expect((await long).exitCode).toBe(0);
  }, 60_000);
});

describe('3. rollback when current’s release directory is gone', () => {
  it('switches to the previous good release and records the bad mark in the release log', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const v1 = current(h);
    expect((await deploy(h, 2)).exitCode).toBe(0);
    const v2 = current(h);
    rmSync(h.droplet.realPath(`${h.appDir}/releases/${v2}`), { recursive: true, force: true });
    const run = await rollback(h);
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/its directory is gone; the bad mark goes to the release log/);
    expect(current(h)).toBe(v1);
    expect(await served(h)).toBe(sha(1));
    expect(releaseLog(h)).toContainEqual(expect.objectContaining({ release: v2, outcome: 'bad' }));
  }, 60_000);
});

describe('4. a release that never went live is never a rollback target', () => {
  it('skips a half-installed release left by a cut-off deploy, and refuses it by name', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const v1 = current(h);
    const cut = deploy(h, 2, { 'install-command': 'sleep 30' });
    const releases = h.droplet.realPath(`${h.appDir}/releases`);
    await waitFor('the half-installed release', () => readdirSync(releases).length === 2);
    await new Promise((r) => setTimeout(r, 500));
    // sshd gone altogether: the cut-off deploy cannot come back to mark its release.
    h.droplet.sshd?.kill();
    expect((await cut).exitCode).toBe(1);
    await h.droplet.sshd?.restart();
    const half = readdirSync(releases).find((id) => id !== v1) as string;
    // The runbook's old advice: remove the lock by hand. No takeover, so nothing marks it abandoned.
    rmSync(h.droplet.realPath(`${h.appDir}/.runbook/deploy.lock`));
    expect((await deploy(h, 3)).exitCode).toBe(0);
    const byName = await rollback(h, { release: half });
    expect(byName.exitCode).toBe(1);
    expect(byName.errors[0]).toMatch(new RegExp(`^Input 'release': ${half} on .* never went live`));
    const run = await rollback(h);
    expect(run.exitCode).toBe(0);
    expect(run.outputs.release).toBe(v1);
    expect(await served(h)).toBe(sha(1));
  }, 90_000);
});

describe('5. a full disk', () => {
  const maybe = isRoot ? it : it.skip;

  maybe(
    'refuses an artifact that cannot fit before uploading, naming need and have',
    async () => {
      const h = await host();
      mountSmallDisk(h, 8);
      const artifact = sampleArtifact(h, { sha: sha(1) });
      writeFileSync(join(artifact, 'big.bin'), randomBytes(10 * 1024 * 1024));
      const run = await deploy(h, 1, {}, { sha: sha(1) }, artifact);
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toMatch(
        /^not enough disk space on .*: need 2\d\.\d MiB \(upload 10\.\d MiB \+ unpacked 10\.\d MiB \+ margin\), have [78]\.\d MiB free for .*\. Nothing was changed\./,
      );
      expect(
        hostShell(h, 'ls -A "$1/.runbook" "$1/releases" 2>/dev/null || true', h.appDir).trim(),
      ).not.toMatch(/upload-|T\d{6}Z/);
    },
    60_000,
  );

  maybe(
    'says disk full when the install fills it, removes the partial release, and the next deploy proceeds',
    async () => {
      const h = await host();
      mountSmallDisk(h, 12);
      expect((await deploy(h, 1)).exitCode).toBe(0);
      const before = hostFreeKb(h);
      const run = await deploy(h, 2, { 'install-command': 'head -c 20000000 /dev/zero > node_modules.bin' });
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toMatch(
        /^disk full on .*: install failed on .*: exit code 1 \(.*No space left on device\)\. The partial release was removed/,
      );
      expect(await served(h)).toBe(sha(1));
      expect(hostFreeKb(h)).toBeGreaterThan(before - 200);
      expect(hostShell(h, 'ls "$1/.runbook"', h.appDir)).not.toMatch(/upload-/);
      const next = await deploy(h, 3);
      expect(next.errors).toEqual([]);
      expect(await served(h)).toBe(sha(3));
    },
    60_000,
  );
});

describe('6. outage length with the defaults', () => {
  it('never switches to an artifact without its entry script', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const v1 = current(h);
    const run = await deploy(h, 2, { 'app-script': 'missing.cjs' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /missing\.cjs \(app-script\) is not in .*\/releases\/.*leave it empty to find the entry from package\.json/s,
    );
    expect(current(h)).toBe(v1);
    expect(await served(h)).toBe(sha(1));
    expect(hostsReport(run)).toMatchObject({ switched: false, outcome: 'not-switched' });
  }, 60_000);

  it('judges a release that never binds its port by start-timeout, not the whole deadline', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const run = await deploy(
      h,
      2,
      { 'start-timeout': '3s', deadline: '2m', 'max-attempts': '1000', interval: '200ms' },
      { sha: sha(2), mode: 'no-listen' },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /nothing listened for 3(\.\d+)?s, past start-timeout 3s: the app does not bind its port/,
    );
    expect(run.durationMs).toBeLessThan(30_000);
    expect(await served(h)).toBe(sha(1));
  }, 60_000);

  it('preflight: a release that crashes at start is caught on a spare port, and users see no outage', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const v1 = current(h);
    const probe = startOutageProbe(h.healthUrl, 20);
    const run = await deploy(
      h,
      2,
      { preflight: 'true', 'start-timeout': '3s' },
      { sha: sha(2), mode: 'crash-at-start' },
    );
    const outage = await probe.stop();
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /failed its preflight on port \d+ and was never switched to; production is unchanged/,
    );
    expect(current(h)).toBe(v1);
    expect(outage.failedProbes).toBe(0);
    expect(hostsReport(run)).toMatchObject({ switched: false });
  }, 60_000);

  it('preflight: a good release proves itself on the side, then is switched to; no preflight process is left', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const run = await deploy(h, 2, { preflight: 'true' });
    expect(run.errors).toEqual([]);
    expect(run.stdout).toMatch(/starting \S+ as bunty-backend-preflight on port \d+ \(PORT\)/);
    expect(await served(h)).toBe(sha(2));
    const names = (await h.droplet.pm2.list()).map((p) => p.name);
    expect(names).toEqual(['bunty-backend']);
  }, 60_000);
});

describe('7. messages', () => {
  it('detects one machine written twice (localhost and 127.0.0.1) instead of locking itself out', async () => {
    const h = await host();
    const sshd = h.droplet.sshd as NonNullable<DeployHost['droplet']['sshd']>;
    const run = await runActionBundle(
      'action-deploy',
      {
        ...hostInputs([h]),
        hosts: `${sshd.user}@127.0.0.1:${sshd.port}\n${sshd.user}@localhost:${sshd.port}`,
        'health-url': h.healthUrl,
        'known-hosts': '',
        'host-fingerprint': sshd.hostFingerprint,
        'install-command': '',
        artifact: sampleArtifact(h, { sha: sha(1) }),
        sha: sha(1),
      },
      { secrets: secretsOf(h) },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /^\S+@127\.0\.0\.1:\d+ and \S+@localhost:\d+ are the same machine \(both offer host key SHA256:\S+\).*Nothing was changed/,
    );
    expect(lockExists(h)).toBe(false);
  });

  it('says the key is the problem when the key cannot be parsed', async () => {
    const h = await host();
    const garbled = garbledKey();
    const run = await runActionBundle(
      'action-rollback',
      { ...hostInputs([h]), 'ssh-key': garbled },
      { secrets: [garbled] },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/^Input 'ssh-key': cannot be used .*Nothing was changed on any target/);
    expect(run.errors[0]).not.toMatch(/firewall/);
  });
});

describe('8. a symlinked releases/', () => {
  it('is refused, and nothing outside the app is touched', async () => {
    const h = await host();
    const outside = h.droplet.realPath(`${h.droplet.hostRoot}/elsewhere`);
    mkdirSync(join(outside, '20200101T000000Z-aaaaaaa'), { recursive: true });
    writeFileSync(join(outside, 'precious.txt'), 'keep me');
    const appDir = h.droplet.realPath(h.appDir);
    mkdirSync(appDir, { recursive: true });
    symlinkSync(`${h.droplet.hostRoot}/elsewhere`, join(appDir, 'releases'));
    const run = await deploy(h, 1, { 'keep-releases': '2' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /releases → \S+elsewhere is a symbolic link; refusing to work through it.*Nothing was changed/,
    );
    expect(readdirSync(outside).sort()).toEqual(['20200101T000000Z-aaaaaaa', 'precious.txt']);
    expect(lockExists(h)).toBe(false);
  });
});

describe('9. a cancelled run (the runner sends SIGINT)', () => {
  it('during the install: stops at once, marks the release abandoned, frees the lock; nothing serving changed', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const v1 = current(h);
    const releases = h.droplet.realPath(`${h.appDir}/releases`);
    let signalledAt = 0;
    const run = runActionBundle(
      'action-deploy',
      {
        ...hostInputs([h]),
        artifact: sampleArtifact(h, { sha: sha(2) }),
        sha: sha(2),
        'install-command': 'sleep 30',
      },
      {
        secrets: secretsOf(h),
        onSpawn: (child) =>
          void waitFor('the release directory', () => readdirSync(releases).length === 2).then(async () => {
            await new Promise((r) => setTimeout(r, 500));
            signalledAt = Date.now();
            child.kill('SIGINT');
          }),
      },
    );
    const result = await run;
    expect(Date.now() - signalledAt).toBeLessThan(5000);
    expect(result.exitCode).toBe(1);
    expect(result.errors[0]).toMatch(/cancelled \(SIGINT\)/);
    expect(current(h)).toBe(v1);
    expect(lockExists(h)).toBe(false);
    // Cancelled while installing: the partial release is removed, and the log says it was abandoned.
    const half = releaseLog(h).find((e) => e.outcome === 'preparing' && e.release !== v1)?.release;
    expect(half).toBeDefined();
    expect(readdirSync(releases)).toEqual([v1]);
    expect(releaseLog(h)).toContainEqual(expect.objectContaining({ release: half, outcome: 'abandoned' }));
  }, 60_000);

  it('after the switch: puts the previous release back, verified, before it exits', async () => {
    const h = await host();
    expect((await deploy(h, 1)).exitCode).toBe(0);
    const v1 = current(h);
    let signalledAt = 0;
    const result = await runActionBundle(
      'action-deploy',
      {
        ...hostInputs([h]),
        artifact: sampleArtifact(h, { sha: sha(2), mode: 'unavailable' }),
        sha: sha(2),
        'install-command': '',
        deadline: '60s',
        'max-attempts': '1000',
        interval: '300ms',
      },
      {
        secrets: secretsOf(h),
        onSpawn: (child) =>
          void waitFor('the switch', () => current(h) !== v1, 30_000).then(async () => {
            await new Promise((r) => setTimeout(r, 800));
            signalledAt = Date.now();
            child.kill('SIGINT');
          }),
      },
    );
    // The runner sends SIGTERM 7.5 s after SIGINT: the way back must be done by then.
    expect(Date.now() - signalledAt).toBeLessThan(7500);
    expect(result.exitCode).toBe(1);
    expect(result.errors[0]).toMatch(
      /^deploy of \S+ cancelled \(SIGINT\) while switching\.\n- .*: switched to \S+, restored to \S+, verified healthy/,
    );
    expect(result.outputs['rolled-back']).toBe('true');
    expect(current(h)).toBe(v1);
    expect(await served(h)).toBe(sha(1));
    expect(lockExists(h)).toBe(false);
  }, 60_000);
});
