/**
 * action-rotate-secret through its committed bundle, as the runner runs it, against sandbox hosts
 * (real sshd, real pm2, the sample app reading its key from the env file at start and serving the
 * key's fingerprint at /keys) and a local fake of GitHub's secrets API that checks every request
 * against GitHub's OpenAPI description and opens every sealed box with libsodium. After every run,
 * neither the old nor the new value may appear anywhere the runner shows or keeps.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { findLeaks, runActionBundle, type ActionRun } from '../../sandbox/index.js';
import type { RunOptions } from '../../sandbox/action-runner.js';
import {
  APP_NAME,
  deployHostPool,
  hostFreeKb,
  hostInputs,
  hostShell,
  hostWriteFile,
  mountSmallDisk,
  runningAppInputs,
  sampleArtifact,
  sha,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { FakeGithub, scopePath } from '../../sandbox/fake-github.js';
import { waitFor } from '../helpers/wait-for.js';

const pool = deployHostPool();
let github: FakeGithub;
beforeEach(() => github?.clearFaults());
beforeAll(async () => {
  github = await FakeGithub.start();
  github.known.add(scopePath.repository('bunty', 'api'));
  github.known.add(scopePath.environment('bunty', 'api', 'production'));
  github.known.add(scopePath.organization('bunty'));
}, 60_000);
afterAll(async () => {
  await github?.stop();
  await pool.stopAll();
});

const fp = (value: string) => createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 8);
const OLD = 'b1d+Q3Jv0ZfJ8yq2Xw3n9Yk4Lr6Tt8Pz0Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8Ii9Jj0Kk1Ll2Mm3Nn4Oo5Pp6Qq7Rr8Ss==';

/** A production-like env file: CRLF, comments, quotes, export, an empty value, # and = in values, no final newline. */
function envText(h: DeployHost, extra = ''): string {
  return [
    '# Bunty API — production',
    `PORT=${h.port}`,
    'HOST=127.0.0.1',
    'export NODE_ENV="production"',
    'DATABASE_URL=postgres://app:p%40ss@db:5432/bunty?sslmode=require # primary',
    'EMPTY=',
    "QUOTED='single # not a comment = still value'",
    `JWT_SECRET="${OLD}"   # rotated by runbook`,
    ...(extra ? [extra] : []),
    '',
    'PLAID_ENABLED=true',
  ].join('\r\n');
}

const envPath = (h: DeployHost) => h.droplet.realPath(`${h.appDir}/shared/.env`);
/** Hosts whose app directory is a tmpfs of their own: realPath cannot see it, their namespace can. */
const onTmpfs = new Set<DeployHost>();
const readEnv = (h: DeployHost) =>
  onTmpfs.has(h) ? hostShell(h, 'cat -- "$1"', `${h.appDir}/shared/.env`) : readFileSync(envPath(h), 'utf8');
const hashEnvDir = (h: DeployHost) =>
  readdirSync(dirname(envPath(h)), { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort()
    .map(
      (f) =>
        `${f}:${createHash('sha256')
          .update(readFileSync(`${dirname(envPath(h))}/${f}`))
          .digest('hex')}`,
    )
    .join('\n');

async function keys(h: DeployHost): Promise<Record<string, string | null>> {
  return (await (await fetch(`http://127.0.0.1:${h.port}/keys`)).json()) as Record<string, string | null>;
}

/** Hosts with the sample app deployed (releases layout), its env file as above. */
async function appHosts(
  n: number,
  extraEnv: (h: DeployHost, i: number) => string = () => '',
): Promise<DeployHost[]> {
  const hosts = await Promise.all(Array.from({ length: n }, () => pool.host()));
  hosts.forEach((h, i) => writeFileSync(envPath(h), envText(h, extraEnv(h, i))));
  const run = await runActionBundle(
    'action-deploy',
    {
      ...hostInputs(hosts),
      'install-command': '',
      artifact: sampleArtifact(hosts[0] as DeployHost, { sha: sha(1) }),
      sha: sha(1),
    },
    { secrets: hosts.map((h) => h.droplet.sshd?.privateKey ?? '') },
  );
  expect(run.errors).toEqual([]);
  for (const h of hosts) expect((await keys(h)).JWT_SECRET).toBe(fp(OLD));
  return hosts;
}

function inputs(hosts: DeployHost[], extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...runningAppInputs(hosts),
    name: 'JWT_SECRET',
    'verify-url': hosts.map((h) => `http://127.0.0.1:${h.port}/keys`).join('\n'),
    'lock-ttl': '3s',
    'restore-deadline': '3s',
    ...extra,
  };
}

const withGithub = (extra: Record<string, string> = {}) => ({
  'github-token': github.token,
  'github-repository': 'bunty/api',
  ...extra,
});

/** Runs the bundle; then the leak guard again with the values only the hosts know now. */
async function rotate(
  hosts: DeployHost[],
  extra: Record<string, string> = {},
  options: Pick<RunOptions, 'env' | 'onSpawn'> = {},
): Promise<ActionRun> {
  const run = await runActionBundle('action-rotate-secret', inputs(hosts, extra), {
    secrets: [OLD, github.token, ...hosts.map((h) => h.droplet.sshd?.privateKey ?? '')],
    env: { GITHUB_API_URL: github.url, ...options.env },
    timeoutMs: 120_000,
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
  });
  const values = hosts.flatMap((h) => {
    const text = readEnv(h);
    return [...text.matchAll(/^(?:export\s+)?JWT_SECRET(?:_PREVIOUS)?="?([^"\r\n]*)"?/gm)].map(
      (m) => m[1] as string,
    );
  });
  const leaks = findLeaks(
    [...values, ...github.secrets.values()].filter((v) => v.length >= 8),
    {
      stdout: run.stdout,
      stderr: run.stderr,
      outputs: JSON.stringify(run.outputs),
      summary: run.summary,
      fakeGithubLog: JSON.stringify(github.requests),
      ...run.runnerFiles,
    },
  );
  expect(leaks).toEqual([]);
  expect(github.violations).toEqual([]);
  return run;
}

const githubValue = () => github.secret(scopePath.repository('bunty', 'api'), 'JWT_SECRET');

describe('rotate on two hosts', () => {
  let hosts: DeployHost[];
  let first: ActionRun;
  let NEW = '';
  beforeAll(async () => {
    hosts = await appHosts(2);
    github.secrets.clear();
    first = await rotate(hosts, withGithub());
  }, 120_000);

  it('writes one new value everywhere, keeps the old as JWT_SECRET_PREVIOUS, every other byte as it was', async () => {
    expect(first.errors).toEqual([]);
    expect(first.exitCode).toBe(0);
    NEW = /^JWT_SECRET="([^"]+)"/m.exec(readEnv(hosts[0] as DeployHost))?.[1] ?? '';
    expect(NEW).toMatch(/^[A-Za-z0-9+/]{86}==$/); // base64:64, one line
    for (const h of hosts) {
      const expected = envText(h)
        .replace(`JWT_SECRET="${OLD}"   #`, `JWT_SECRET="${NEW}"   #`)
        .concat(`\r\nJWT_SECRET_PREVIOUS=${OLD}`);
      expect(readEnv(h)).toBe(expected);
      const backups = readdirSync(dirname(envPath(h))).filter((f) => f.startsWith('.env.bak-'));
      expect(backups).toHaveLength(1);
      expect(readFileSync(`${dirname(envPath(h))}/${backups[0]}`, 'utf8')).toBe(envText(h));
    }
  });

  it('restarts pm2 so the running app holds the new key and the old one for the grace window', async () => {
    for (const h of hosts)
      expect(await keys(h)).toEqual({ JWT_SECRET: fp(NEW), JWT_SECRET_PREVIOUS: fp(OLD) });
  });

  it('stores the same value in GitHub, sealed to the scope key, and reports fingerprints only', () => {
    expect(githubValue()).toBe(NEW);
    expect(first.outputs).toMatchObject({
      fingerprint: fp(NEW),
      'previous-fingerprint': fp(OLD),
      'hosts-updated': '2',
      'github-updated': 'true',
      reverted: 'false',
    });
    expect(first.summary).toContain(`${fp(OLD)} → ${fp(NEW)}`);
    expect(first.summary).toContain('created GitHub secret JWT_SECRET of repository bunty/api');
  });

  it('records the rotation on each host without any value', () => {
    for (const h of hosts) {
      const record = readFileSync(h.droplet.realPath(`${h.appDir}/shared/.rotations.json`), 'utf8');
      const parsed = JSON.parse(record) as {
        secrets: Record<string, { fingerprint: string; previous_fingerprint: string }>;
        pending: object;
      };
      expect(parsed.secrets.JWT_SECRET).toMatchObject({
        fingerprint: fp(NEW),
        previous_fingerprint: fp(OLD),
      });
      expect(parsed.pending).toEqual({});
      expect(record).not.toContain(NEW.slice(0, 12));
      expect(record).not.toContain(OLD.slice(0, 12));
    }
  });

  it('proves --update-env matters: a hand edit plus a plain pm2 restart leaves the app on the held key', async () => {
    const h = hosts[0] as DeployHost;
    const original = readEnv(h);
    writeFileSync(
      envPath(h),
      original.replace(`JWT_SECRET="${NEW}"`, 'JWT_SECRET="edited-by-hand-without-update-env"'),
    );
    await h.droplet.pm2.command(['restart', APP_NAME]);
    for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100)))
      if (
        await keys(h).then(
          () => true,
          () => false,
        )
      )
        break;
    expect((await keys(h)).JWT_SECRET).toBe(fp(NEW)); // pm2 still passes the value it held; dotenv does not override it
    writeFileSync(envPath(h), original);
  });

  it('audit reports each tracked secret with its age; past max-age it fails', async () => {
    const ok = await rotate(hosts, { mode: 'audit', name: '' });
    expect(ok.exitCode).toBe(0);
    const rows = JSON.parse(ok.outputs.report ?? '[]') as {
      name: string;
      status: string;
      ageDays: number;
      fingerprint: string;
    }[];
    expect(rows).toHaveLength(2);
    expect(
      rows.every(
        (r) => r.name === 'JWT_SECRET' && r.status === 'ok' && r.ageDays === 0 && r.fingerprint === fp(NEW),
      ),
    ).toBe(true);
    const h = hosts[1] as DeployHost;
    const path = h.droplet.realPath(`${h.appDir}/shared/.rotations.json`);
    const record = JSON.parse(readFileSync(path, 'utf8')) as {
      secrets: Record<string, { rotated_at: string }>;
    };
    (record.secrets.JWT_SECRET as { rotated_at: string }).rotated_at = new Date(
      Date.now() - 100 * 86_400_000,
    ).toISOString();
    writeFileSync(path, JSON.stringify(record));
    const warn = await rotate(hosts, { mode: 'audit', name: 'JWT_SECRET' });
    expect(warn.exitCode).toBe(0);
    expect(warn.stdout).toMatch(/::warning::.*JWT_SECRET is 100 days old/);
    const over = await rotate(hosts, { mode: 'audit', name: 'JWT_SECRET', 'max-age': '30d' });
    expect(over.exitCode).toBe(1);
    expect(over.errors.join('\n')).toMatch(/JWT_SECRET on .* \(100 days\) is older than max-age 30d/);
  });

  it('retire-previous removes the grace value from the files and from the running app', async () => {
    const run = await rotate(hosts, { mode: 'retire-previous' });
    expect(run.errors).toEqual([]);
    for (const h of hosts) {
      expect(readEnv(h)).toBe(envText(h).replace(`JWT_SECRET="${OLD}"   #`, `JWT_SECRET="${NEW}"   #`));
      expect(await keys(h)).toEqual({ JWT_SECRET: fp(NEW), JWT_SECRET_PREVIOUS: null });
      const record = JSON.parse(
        readFileSync(h.droplet.realPath(`${h.appDir}/shared/.rotations.json`), 'utf8'),
      ) as {
        secrets: Record<string, { previous_retired_at?: string }>;
      };
      expect(record.secrets.JWT_SECRET?.previous_retired_at).toBeDefined();
    }
    expect(run.outputs['previous-fingerprint']).toBe(fp(OLD));
  });
});

describe('failures put every host back', () => {
  it('the app refuses the new value on the second host: both hosts reverted and healthy, GitHub untouched', async () => {
    const hosts = await appHosts(2, (_h, i) => (i === 1 ? 'SAMPLE_SECRET_MIN_LENGTH=60' : ''));
    github.secrets.clear();
    const before = hosts.map(readEnv);
    const mark = github.requests.length;
    const run = await rotate(hosts, withGithub({ generate: 'alnum:40', 'start-timeout': '4s' }));
    expect(run.exitCode).toBe(1);
    expect(run.errors.join('\n')).toMatch(
      /Rotation of JWT_SECRET failed: .*2 .*Every changed host \(.*, .*\) was put back as found, restarted and verified healthy\. GitHub was not touched\./s,
    );
    expect(run.outputs).toMatchObject({ reverted: 'true', 'github-updated': 'false', 'hosts-updated': '0' });
    hosts.forEach((h, i) => expect(readEnv(h)).toBe(before[i]));
    for (const h of hosts) expect(await keys(h)).toEqual({ JWT_SECRET: fp(OLD), JWT_SECRET_PREVIOUS: null });
    expect(githubValue()).toBeUndefined();
    expect(github.requests.slice(mark).filter((r) => r.method === 'PUT')).toHaveLength(0);
  }, 120_000);

  it('GitHub answers 403 to the PUT: the hosts are reverted so GitHub and the servers agree', async () => {
    const hosts = await appHosts(2);
    github.secrets.clear();
    github.failNext(403, { method: 'PUT' });
    const run = await rotate(hosts, withGithub());
    expect(run.exitCode).toBe(1);
    const error = run.errors.join('\n');
    expect(error).toContain('403: Resource not accessible by integration');
    expect(error).toContain('GITHUB_TOKEN can never write secrets');
    expect(error).toContain('The hosts were put back so that GitHub and the servers agree on the old value');
    for (const h of hosts) {
      expect(readEnv(h)).toBe(envText(h));
      expect((await keys(h)).JWT_SECRET).toBe(fp(OLD));
    }
    expect(run.outputs.reverted).toBe('true');
    expect(githubValue()).toBeUndefined();
  }, 120_000);

  it('GitHub never answers the PUT: the wait ends at github-timeout, and the hosts are put back', async () => {
    const hosts = await appHosts(1);
    github.secrets.clear();
    github.failNext('hang', { method: 'PUT' });
    const started = Date.now();
    const run = await rotate(hosts, withGithub({ 'github-timeout': '2s', 'github-max-wait': '0s' }));
    expect(run.exitCode).toBe(1);
    expect(Date.now() - started).toBeLessThan(60_000);
    const error = run.errors.join('\n');
    expect(error).toMatch(/did not answer to update .* within 2 s \(github-timeout 2 s/);
    expect(error).toContain('The hosts were put back so that GitHub and the servers agree on the old value');
    expect(readEnv(hosts[0] as DeployHost)).toBe(envText(hosts[0] as DeployHost));
    expect((await keys(hosts[0] as DeployHost)).JWT_SECRET).toBe(fp(OLD));
  }, 120_000);

  it('a bad token (401) or an unknown repository (404) fails before any host changes', async () => {
    const hosts = await appHosts(1);
    const before = hashEnvDir(hosts[0] as DeployHost);
    const bad = await rotate(hosts, withGithub({ 'github-token': 'ghp_not_a_valid_token_000000' }));
    expect(bad.exitCode).toBe(1);
    expect(bad.errors.join('\n')).toMatch(/401: Bad credentials.*not valid/s);
    const missing = await rotate(hosts, withGithub({ 'github-repository': 'bunty/nope' }));
    expect(missing.exitCode).toBe(1);
    expect(missing.errors.join('\n')).toMatch(
      /repository bunty\/nope does not exist or is not visible to the token/,
    );
    expect(hashEnvDir(hosts[0] as DeployHost)).toBe(before);
    expect((await keys(hosts[0] as DeployHost)).JWT_SECRET).toBe(fp(OLD));
  }, 120_000);

  it('the second host becomes unreachable mid-rotation: the first is reverted, the failure names the host', async () => {
    const hosts = await appHosts(2);
    const [a, b] = hosts as [DeployHost, DeployHost];
    const before = readEnv(a);
    const cut = (async () => {
      await waitFor('the first host written', () => readEnv(a) !== before, 60_000);
      b.droplet.sshd?.kill();
    })();
    const run = await rotate(hosts);
    await cut;
    expect(run.exitCode).toBe(1);
    const error = run.errors.join('\n');
    expect(error).toContain(b.host);
    expect(error).toMatch(
      new RegExp(`Every changed host \\(${a.host.replace(/[.]/g, '\\.')}\\) was put back`),
    );
    expect(readEnv(a)).toBe(before);
    expect((await keys(a)).JWT_SECRET).toBe(fp(OLD));
    expect(readEnv(b)).toBe(envText(b));
    await b.droplet.sshd?.restart();
  }, 120_000);
});

describe('a full disk', () => {
  const isRoot = process.getuid?.() === 0;
  (isRoot ? it : it.skip)(
    'no space left for the new file: nothing changed, no temp file left, the app on its key; with space again it rotates',
    async () => {
      const h = await pool.host();
      mountSmallDisk(h, 8);
      onTmpfs.add(h);
      hostWriteFile(h, `${h.appDir}/shared/.env`, envText(h));
      const deployed = await runActionBundle(
        'action-deploy',
        {
          ...hostInputs([h]),
          'install-command': '',
          artifact: sampleArtifact(h, { sha: sha(1) }),
          sha: sha(1),
        },
        { secrets: [h.droplet.sshd?.privateKey ?? ''] },
      );
      expect(deployed.errors).toEqual([]);
      // Leave room for the lock and the journal (a page each on tmpfs), not for the new env file.
      hostShell(
        h,
        'head -c "$2" /dev/zero > "$1/fill" || true',
        h.appDir,
        String((hostFreeKb(h) - 8) * 1024),
      );
      const before = readEnv(h);
      const run = await rotate([h]);
      expect(run.exitCode).toBe(1);
      expect(run.errors.join('\n')).toMatch(
        /disk full: the new .*\.env could not be written \(No space left on device\); the file is as it was\..*put back/s,
      );
      expect(readEnv(h)).toBe(before);
      expect(hostShell(h, 'ls -a -- "$1"', `${h.appDir}/shared`)).not.toContain('runbook-tmp');
      expect((await keys(h)).JWT_SECRET).toBe(fp(OLD));
      hostShell(h, 'rm -f "$1/fill"', h.appDir);
      const again = await rotate([h]);
      expect(again.errors).toEqual([]);
      expect((await keys(h)).JWT_SECRET).not.toBe(fp(OLD));
    },
    120_000,
  );
});

describe('crash and re-run', () => {
  it('a run killed after writing the first host is finished by the next run with the same value', async () => {
    const hosts = await appHosts(2);
    const [a, b] = hosts as [DeployHost, DeployHost];
    github.secrets.clear();
    const before = readEnv(a);
    let killed = false;
    const crashed = await rotate(hosts, withGithub(), {
      onSpawn: (child) => {
        void waitFor('the first host written', () => readEnv(a) !== before, 60_000).then(() => {
          killed = child.kill('SIGKILL');
        });
      },
    });
    expect(killed).toBe(true);
    expect(crashed.exitCode).toBeNull();
    const written = /^JWT_SECRET="([^"]+)"/m.exec(readEnv(a))?.[1] ?? '';
    expect(fp(written)).not.toBe(fp(OLD));
    expect(readEnv(b)).toBe(envText(b)); // the second host was not reached
    await new Promise((r) => setTimeout(r, 3500)); // the dead run's lease ages past lock-ttl
    const rerun = await rotate(hosts, withGithub());
    expect(rerun.errors).toEqual([]);
    expect(rerun.summary).toContain('finishes the rotation');
    for (const h of hosts) {
      expect(/^JWT_SECRET="([^"]+)"/m.exec(readEnv(h))?.[1]).toBe(written);
      expect(readEnv(h).endsWith(`\r\nJWT_SECRET_PREVIOUS=${OLD}`)).toBe(true);
      expect(await keys(h)).toEqual({ JWT_SECRET: fp(written), JWT_SECRET_PREVIOUS: fp(OLD) });
    }
    expect(githubValue()).toBe(written);
    expect(rerun.outputs.fingerprint).toBe(fp(written));
  }, 180_000);
});

describe('plans, scopes, values and refusals', () => {
  let hosts: DeployHost[];
  beforeAll(async () => {
    hosts = await appHosts(1);
  }, 60_000);

  it('a dry run prints the plan with fingerprints and changes nothing (files hashed before and after)', async () => {
    const before = hashEnvDir(hosts[0] as DeployHost);
    const run = await rotate(
      hosts,
      withGithub({ 'dry-run': 'true', value: 'sk_live_provided_by_stripe_0123456789abcdef' }),
    );
    expect(run.errors).toEqual([]);
    expect(run.stdout).toContain(
      `JWT_SECRET ${fp(OLD)} → ${fp('sk_live_provided_by_stripe_0123456789abcdef')}`,
    );
    expect(run.summary).toContain('Dry run');
    expect(hashEnvDir(hosts[0] as DeployHost)).toBe(before);
    expect(existsSync(hosts[0]?.droplet.realPath(`${hosts[0]?.appDir}/.runbook/deploy.lock`) ?? '')).toBe(
      false,
    );
  });

  it('refuses to rotate a variable that changes how node, the loader or pm2 run, or a lower-case one', async () => {
    const before = hashEnvDir(hosts[0] as DeployHost);
    for (const [name, why] of [
      ['LD_PRELOAD', /^Input 'name': LD_PRELOAD changes how node/],
      ['PATH', /^Input 'name': PATH changes how node/],
      ['jwt_secret', /^Input 'name': "jwt_secret" has lower-case letters/],
    ] as const) {
      const run = await rotate(hosts, { name });
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toMatch(why);
    }
    expect(hashEnvDir(hosts[0] as DeployHost)).toBe(before);
  });

  it('a provided value full of shell syntax is written literally to an environment secret through a GHES-style API root', async () => {
    const ghes = await FakeGithub.start({ prefix: '/api/v3' });
    ghes.known.add(scopePath.environment('bunty', 'api', 'production'));
    try {
      const canary = hosts[0]?.droplet.realPath('/tmp/rotate-canary') ?? '';
      // All three quotes and a `#` cannot be written so that dotenv reads them back: refused, nothing changed.
      const unwritable = `'"\` # x`;
      const refused = await rotate(hosts, { value: unwritable });
      expect(refused.exitCode).toBe(1);
      expect(refused.errors[0]).toMatch(
        /cannot be written so that dotenv reads it back unchanged.*No host was changed/,
      );
      const value = `$(touch /tmp/rotate-canary)'"; \`id\` = ${'x'.repeat(20)}`;
      const run = await runActionBundle(
        'action-rotate-secret',
        inputs(hosts, {
          value,
          'github-token': ghes.token,
          'github-scope': 'environment',
          'github-repository': 'bunty/api',
          'github-environment': 'production',
        }),
        { secrets: [value, OLD, ghes.token], env: { GITHUB_API_URL: ghes.url }, timeoutMs: 120_000 },
      );
      expect(run.errors).toEqual([]);
      expect(ghes.violations).toEqual([]);
      expect(ghes.secret(scopePath.environment('bunty', 'api', 'production'), 'JWT_SECRET')).toBe(value);
      expect((await keys(hosts[0] as DeployHost)).JWT_SECRET).toBe(fp(value));
      expect(existsSync(canary)).toBe(false);
      expect(ghes.requests.every((r) => r.path.startsWith('/api/v3/'))).toBe(true);
    } finally {
      await ghes.stop();
    }
  }, 120_000);

  it('an organization secret with a secondary rate limit: waits as GitHub asks, then writes it', async () => {
    github.failNext('secondary-rate-limit', { method: 'PUT' });
    const run = await rotate(hosts, {
      'github-token': github.token,
      'github-scope': 'organization',
      'github-org': 'bunty',
      'org-visibility': 'private',
    });
    expect(run.errors).toEqual([]);
    expect(run.stdout).toMatch(/secondary rate limit .* waiting 1 s as GitHub asks/);
    expect(github.secret(scopePath.organization('bunty'), 'JWT_SECRET')).toBeDefined();
    const put = github.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/orgs/'));
    expect(put.map((r) => r.status)).toEqual([403, 201]);
    expect(JSON.parse(put[1]?.body ?? '{}')).toMatchObject({ visibility: 'private' });
  }, 120_000);

  it('a primary rate limit on the public key is waited out as GitHub asks; a 422 on the write reverts the host', async () => {
    const h = hosts[0] as DeployHost;
    github.failNext('rate-limit', { method: 'GET' });
    github.failNext(422, { method: 'PUT' });
    const before = readEnv(h);
    const run = await rotate(hosts, withGithub());
    expect(run.stdout).toMatch(/::warning::GitHub rate limit on GET .*: waiting \d s as GitHub asks/);
    expect(run.exitCode).toBe(1);
    expect(run.errors.join('\n')).toMatch(/\(422: Validation Failed\).*found the request invalid.*put back/s);
    expect(readEnv(h)).toBe(before);
    expect(run.outputs.reverted).toBe('true');
  }, 60_000);

  it('a run cancelled (SIGTERM) mid-rotation puts the host back before it exits', async () => {
    const h = hosts[0] as DeployHost;
    const before = readEnv(h);
    const currentKey = (await keys(h)).JWT_SECRET;
    const run = await rotate(
      hosts,
      { 'stabilization-window': '5s' },
      {
        onSpawn: (child) => {
          void waitFor('the host written', () => readEnv(h) !== before, 60_000).then(() =>
            child.kill('SIGTERM'),
          );
        },
      },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors.join('\n')).toMatch(
      /the run was cancelled.*Every changed host .* was put back as found/s,
    );
    expect(readEnv(h)).toBe(before);
    expect((await keys(h)).JWT_SECRET).toBe(currentKey);
  }, 60_000);

  it.each([
    ['name', 'A; rm -rf /'],
    ['previous-name', '$(reboot)'],
    ['generate', 'base64:1'],
    ['github-secret-name', 'GITHUB_TOKEN'],
    ['env-file', '../.env'],
  ])('refuses %s = %j naming the input, nothing changed', async (input, value) => {
    const before = hashEnvDir(hosts[0] as DeployHost);
    const run = await rotate(hosts, withGithub({ [input]: value }));
    expect(run.exitCode).toBe(1);
    expect(run.errors.join('\n')).toContain(`Input '${input}'`);
    expect(run.errors.join('\n')).toContain('Nothing was changed');
    expect(hashEnvDir(hosts[0] as DeployHost)).toBe(before);
  });
});
