/**
 * action-deploy, action-rollback, action-rotate-secret and action-diagnose on an app shaped like real
 * TypeScript APIs (sandbox/real-app): built by tsc into dist/, started from package.json, .env by
 * dotenv, `/health` without a version, a Redis client that gives up — through the committed bundles,
 * with only the inputs the reusable workflows pass (no app-script).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import dotenv from 'dotenv';
import { appendFileSync, existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  findLeaks,
  makeRealAppRelease,
  runActionBundle,
  type ActionRun,
  type RealAppRelease,
} from '../../sandbox/index.js';
import {
  APP_NAME,
  deployHostPool,
  hostShell,
  hostWriteFile,
  runningAppInputs,
  sha,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { startRedis, type SandboxRedis } from '../../sandbox/redis.js';

const pool = deployHostPool();
afterAll(() => pool.stopAll());

let artifacts = 0;
function artifact(h: DeployHost, release: RealAppRelease = {}): string {
  return makeRealAppRelease(join(h.droplet.root, 'artifacts', `real${++artifacts}`), release);
}

/** The inputs deploy.yml and incident.yml give: no app-script, no expect-json, no version settings. */
function inputs(h: DeployHost): Record<string, string> {
  return { ...runningAppInputs([h]), 'max-attempts': '5' };
}

/** The host inputs action-diagnose takes (it has no deploy settings). */
function diagnoseInputs(h: DeployHost): Record<string, string> {
  const all = inputs(h);
  return Object.fromEntries(
    ['hosts', 'ssh-key', 'known-hosts', 'app-name', 'app-dir', 'health-url'].map((k) => [k, all[k] ?? '']),
  );
}

function deploy(
  h: DeployHost,
  n: number,
  release: RealAppRelease = {},
  extra: Record<string, string> = {},
): Promise<ActionRun> {
  return runActionBundle(
    'action-deploy',
    { ...inputs(h), 'install-command': '', artifact: artifact(h, release), sha: sha(n), ...extra },
    { secrets: [h.droplet.sshd?.privateKey ?? ''] },
  );
}

function rollback(h: DeployHost, extra: Record<string, string> = {}): Promise<ActionRun> {
  return runActionBundle(
    'action-rollback',
    { ...inputs(h), ...extra },
    { secrets: [h.droplet.sshd?.privateKey ?? ''] },
  );
}

function current(h: DeployHost): string {
  try {
    return readlinkSync(h.droplet.realPath(`${h.appDir}/current`)).replace(/^releases\//, '');
  } catch {
    return '';
  }
}

function isBad(h: DeployHost, id: string): boolean {
  return existsSync(h.droplet.realPath(`${h.appDir}/releases/${id}/BAD_RELEASE`));
}

interface Running {
  status: string;
  script: string;
  cwd: string;
}

/** What pm2 runs for the app, and the real working directory of its process. */
async function running(h: DeployHost): Promise<Running[]> {
  const list = (await h.droplet.pm2.list()) as unknown as {
    name: string;
    pid: number;
    pm2_env: Record<string, unknown>;
  }[];
  return list
    .filter((p) => p.name === APP_NAME)
    .map((p) => ({
      status: String(p.pm2_env.status),
      script: String(p.pm2_env.pm_exec_path),
      cwd: p.pid ? hostShell(h, 'readlink -f /proc/"$1"/cwd', String(p.pid)).trim() : '',
    }));
}

function alive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitHealthy(h: DeployHost): Promise<void> {
  for (const until = Date.now() + 15_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    if (
      await fetch(h.healthUrl).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
  }
  throw new Error('the app started by hand never answered');
}

async function health(h: DeployHost): Promise<unknown> {
  return (await fetch(h.healthUrl)).json();
}

describe('an app built with tsc, started from package.json, /health without a version', () => {
  let h: DeployHost;
  const ids: string[] = [];
  beforeAll(async () => {
    h = await pool.host();
  });

  it('deploys from package.json start, proven by pm2 (pid, start time, cwd) rather than a version', async () => {
    const run = await deploy(h, 1);
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    ids.push(run.outputs.release as string);
    expect(run.stdout).toContain('entry node dist/index.js (package.json scripts.start)');
    expect(await health(h)).toMatchObject({ status: 'ok' });
    expect(await running(h)).toEqual([
      {
        status: 'online',
        script: `${h.appDir}/current/dist/index.js`,
        cwd: `${h.appDir}/releases/${ids[0]}`,
      },
    ]);
    const log = readFileSync(h.droplet.realPath(`${h.appDir}/.runbook/releases.log`), 'utf8');
    expect(log).toContain('"entry":{"script":"dist/index.js"');
  });

  it('rolls a broken build back automatically: the previous release runs again', async () => {
    const run = await deploy(h, 2, { broken: 'crash-at-start' });
    ids.push(run.outputs.release as string);
    expect(run.exitCode).toBe(1);
    expect(run.outputs['rolled-back']).toBe('true');
    expect(run.errors[0]).toMatch(/connection refused/);
    expect(current(h)).toBe(ids[0]);
    expect((await running(h))[0]).toMatchObject({ status: 'online', cwd: `${h.appDir}/releases/${ids[0]}` });
  });

  it('deploys two more good releases', async () => {
    for (const n of [3, 4]) {
      const run = await deploy(h, n);
      expect(run.errors).toEqual([]);
      ids.push(run.outputs.release as string);
    }
    expect(current(h)).toBe(ids[3]);
  });

  it('rolls back twice as the incident workflow runs it: the bad release is skipped, a healthy one is not marked bad', async () => {
    const first = await rollback(h);
    expect(first.errors).toEqual([]);
    expect(first.outputs).toMatchObject({ release: ids[2], 'from-release': ids[3] });
    expect(isBad(h, ids[3] as string)).toBe(false);
    expect((await running(h))[0]).toMatchObject({ status: 'online', cwd: `${h.appDir}/releases/${ids[2]}` });

    const second = await rollback(h);
    expect(second.errors).toEqual([]);
    expect(second.outputs).toMatchObject({ release: ids[0], 'from-release': ids[2] });
    expect((await running(h))[0]).toMatchObject({ status: 'online', cwd: `${h.appDir}/releases/${ids[0]}` });

    // The healthy release rolled away from is still a valid target when named.
    const forward = await rollback(h, { release: ids[3] as string });
    expect(forward.errors).toEqual([]);
    expect(current(h)).toBe(ids[3]);
  });

  it('starts a target that is current but not running, instead of "nothing to do"', async () => {
    await h.droplet.pm2.command(['stop', APP_NAME]);
    const run = await rollback(h, { release: ids[3] as string });
    expect(run.errors).toEqual([]);
    expect(run.stdout).toMatch(/already on .*, but it is not serving healthy/);
    expect((await running(h))[0]).toMatchObject({ status: 'online', cwd: `${h.appDir}/releases/${ids[3]}` });
    const again = await rollback(h, { release: ids[3] as string });
    expect(again.stdout).toMatch(/already on .*, online and healthy; nothing to do/);
  });

  it('refuses a target whose dependencies are gone before pm2 is touched', async () => {
    hostShell(h, 'rm -f "$1/node_modules"', `${h.appDir}/releases/${ids[2]}`);
    const run = await rollback(h, { release: ids[2] as string });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /cannot be started: package\.json lists dependencies but node_modules is not installed\. Nothing was changed/,
    );
    expect(current(h)).toBe(ids[3]);
    expect((await running(h))[0]).toMatchObject({ status: 'online', cwd: `${h.appDir}/releases/${ids[3]}` });
  });

  it('puts the serving release back when the rollback target fails to come up', async () => {
    hostShell(
      h,
      'printf "throw new Error(\\"broken on the host\\");\\n" > "$1/dist/index.js"',
      `${h.appDir}/releases/${ids[0]}`,
    );
    const run = await rollback(h, { release: ids[0] as string });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(new RegExp(`${ids[3]} was put back and verified healthy`));
    expect(current(h)).toBe(ids[3]);
    expect(isBad(h, ids[3] as string)).toBe(false);
    expect((await running(h))[0]).toMatchObject({ status: 'online', cwd: `${h.appDir}/releases/${ids[3]}` });
    expect(await health(h)).toMatchObject({ status: 'ok' });
  });

  it('ops restart starts the current release with its recorded entry when pm2 has lost the app', async () => {
    await h.droplet.pm2.command(['delete', APP_NAME]);
    const run = await runActionBundle(
      'action-ops',
      { ...inputs(h), operation: 'restart' },
      { secrets: [h.droplet.sshd?.privateKey ?? ''] },
    );
    expect(run.errors).toEqual([]);
    expect(run.stdout).toMatch(
      /pm2 runs no bunty-backend: start \S+ \(current\) with node dist\/index\.js \(as recorded in the release log\)/,
    );
    expect((await running(h))[0]).toMatchObject({ status: 'online', cwd: `${h.appDir}/releases/${ids[3]}` });

    // A mistyped app-name starts no second copy of the app.
    const typo = await runActionBundle(
      'action-ops',
      { ...inputs(h), operation: 'restart', 'app-name': 'bunty-backnd' },
      { secrets: [h.droplet.sshd?.privateKey ?? ''] },
    );
    expect(typo.exitCode).toBe(1);
    expect(typo.errors[0]).toMatch(
      /pm2 runs no app named bunty-backnd, but runs bunty-backend from .*Nothing was changed/,
    );
    expect(await running(h)).toHaveLength(1);
  });

  it('says so at once when version-check: require meets a /health without a version', async () => {
    const run = await deploy(h, 5, {}, { 'version-check': 'require' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/no release id served .*version-check: require/);
    expect(run.errors[0]).toMatch(/the failure does not heal by waiting/);
    expect(current(h)).toBe(ids[3]);
  });
});

describe('first deploys and installs that fail', () => {
  it('a failed first deploy leaves no current and no crash-looping process', async () => {
    const h = await pool.host();
    const run = await deploy(h, 7, { broken: 'crash-at-start' });
    expect(run.exitCode).toBe(1);
    expect(current(h)).toBe('');
    expect(await running(h)).toEqual([]);

    const missing = await deploy(h, 8, {}, { 'install-command': 'npm ci --omit=dev' });
    expect(missing.exitCode).toBe(1);
    expect(missing.errors[0]).toMatch(/needs a package-lock\.json .* and there is none/);
    expect(missing.errors[0]).toMatch(/install-command: npm install --omit=dev/);

    const unfound = await deploy(h, 9, { ecosystem: { name: 'other-app', script: 'dist/missing.js' } }, {});
    expect(unfound.exitCode).toBe(0);
    expect(unfound.stdout).toContain('entry node dist/index.js (package.json scripts.start)');
    expect(unfound.stdout + unfound.summary).not.toContain('never printed');

    // pm2's way: the ecosystem app of that name, started with its env — read on the host, never shown.
    const eco = await deploy(h, 10, { ecosystem: { name: APP_NAME, script: 'dist/index.js' } });
    expect(eco.errors).toEqual([]);
    expect(eco.stdout).toContain(
      'entry node --require ./who-runs.cjs dist/index.js (ecosystem.config.js (app bunty-backend); LD_LIBRARY_PATH of its env left out: it changes how the pm2 command itself runs)',
    );
    // Its NODE_OPTIONS reached the app as node flags, and no pm2 command ran with it.
    const ran = hostShell(h, 'cat "$1"', `${h.appDir}/current/who-ran.txt`).trim().split('\n');
    expect(ran.length).toBeGreaterThan(0);
    // The app runs under pm2's ProcessContainerFork.js; the pm2 command would be its bin/pm2.
    for (const script of ran) expect(script).toMatch(/\/dist\/index\.js$|\/ProcessContainer(Fork)?\.js$/);
    const list = (await h.droplet.pm2.list()) as unknown as { name: string; pid: number }[];
    const pid = list.find((p) => p.name === APP_NAME)?.pid;
    expect(hostShell(h, 'tr "\\0" "\\n" < /proc/"$1"/environ', String(pid))).toContain(
      'SECRET_IN_ECOSYSTEM=never printed',
    );
    const log = readFileSync(h.droplet.realPath(`${h.appDir}/.runbook/releases.log`), 'utf8');
    for (const text of [eco.stdout, eco.summary, log]) expect(text).not.toContain('never printed');
  });
});

describe('the first deploy over an app pm2 already runs from elsewhere', () => {
  it('fails its gate and puts back what ran before, running and healthy', async () => {
    const h = await pool.host();
    // Started by hand, the runbook's way, outside app-dir.
    const byHand = makeRealAppRelease(join(h.droplet.root, 'home', 'byhand'));
    writeFileSync(
      join(byHand, '.env'),
      `PORT=${h.port}\nHOST=127.0.0.1\nJWT_SECRET=by-hand-secret-0123456789\n`,
    );
    await h.droplet.pm2.command([
      'start',
      join(byHand, 'dist', 'index.js'),
      '--name',
      APP_NAME,
      '--cwd',
      byHand,
    ]);
    await waitHealthy(h);
    const run = await deploy(h, 11, { broken: 'crash-at-start' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(
      /first deploy\), taken back out: what pm2 ran before it runs again, verified healthy/,
    );
    expect(current(h)).toBe('');
    expect(await running(h)).toEqual([
      { status: 'online', script: join(byHand, 'dist', 'index.js'), cwd: byHand },
    ]);
    expect(await health(h)).toMatchObject({ status: 'ok' });
    expect(existsSync(h.droplet.realPath(`${h.appDir}/.runbook/replaced-pm2-app.json`))).toBe(false);
  });
});

describe('rotation and diagnosis of the app, its Redis client one that gives up', () => {
  let h: DeployHost;
  let redis: SandboxRedis;
  const OLD = 'old-jwt-secret-0123456789abcdef';
  const NEW = 'new-jwt-secret-fedcba9876543210';
  beforeAll(async () => {
    h = await pool.host();
    redis = await startRedis();
    hostWriteFile(
      h,
      `${h.appDir}/shared/.env`,
      `PORT=${h.port}\nHOST=127.0.0.1\nREDIS_URL=${redis.url}\n# the signing key\nJWT_SECRET="${OLD}"\n`,
    );
    const run = await deploy(h, 1);
    expect(run.errors).toEqual([]);
  });
  afterAll(() => redis.stop());

  /** SHA-256 of the variable in the app process's own environment, read on the host ('' when unset). */
  async function environHash(name: string): Promise<string> {
    const list = (await h.droplet.pm2.list()) as unknown as { name: string; pid: number }[];
    const pid = list.find((p) => p.name === APP_NAME)?.pid;
    const env = hostShell(h, 'tr "\\0" "\\n" < /proc/"$1"/environ', String(pid));
    const value = env
      .split('\n')
      .find((l) => l.startsWith(`${name}=`))
      ?.slice(name.length + 1);
    return value ? createHash('sha256').update(value).digest('hex') : '';
  }

  it('rotates JWT_SECRET into the running process, and says the app ignores JWT_SECRET_PREVIOUS', async () => {
    const run = await runActionBundle(
      'action-rotate-secret',
      { ...inputs(h), name: 'JWT_SECRET', value: NEW },
      { secrets: [OLD, NEW, h.droplet.sshd?.privateKey ?? ''] },
    );
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(run.summary).toMatch(/never mentions JWT_SECRET_PREVIOUS .*stops working at once/);
    expect(await environHash('JWT_SECRET')).toBe(createHash('sha256').update(NEW).digest('hex'));
    expect(findLeaks([OLD, NEW], { stdout: run.stdout, summary: run.summary })).toEqual([]);
  });

  it('with grace: none writes no previous value and says the old one stops working', async () => {
    const run = await runActionBundle(
      'action-rotate-secret',
      { ...inputs(h), name: 'JWT_SECRET', value: OLD, grace: 'none' },
      { secrets: [OLD, NEW, h.droplet.sshd?.privateKey ?? ''] },
    );
    expect(run.errors).toEqual([]);
    expect(run.summary).toMatch(/grace: none — the old JWT_SECRET stops working/);
    expect(readFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), 'utf8')).toContain(
      '# the signing key',
    );
    expect(await environHash('JWT_SECRET')).toBe(createHash('sha256').update(OLD).digest('hex'));
  });

  it('edits .env as dotenv reads it: a JWT_SECRET= line inside a quoted PEM key is part of that key', async () => {
    const pem =
      '-----BEGIN PRIVATE KEY-----\nJWT_SECRET=inside-the-pem\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----';
    const envPath = `${h.appDir}/shared/.env`;
    const before = readFileSync(h.droplet.realPath(envPath), 'utf8');
    hostWriteFile(h, envPath, `PRIVATE_KEY="${pem}"\n${before}`);
    const NEXT = 'next-jwt-secret-0123456789abcdef';
    const run = await runActionBundle(
      'action-rotate-secret',
      { ...inputs(h), name: 'JWT_SECRET', value: NEXT },
      { secrets: [OLD, NEW, NEXT, h.droplet.sshd?.privateKey ?? ''] },
    );
    expect(run.errors).toEqual([]);
    const after = dotenv.parse(readFileSync(h.droplet.realPath(envPath), 'utf8'));
    expect(after).toMatchObject({ PRIVATE_KEY: pem, JWT_SECRET: NEXT, JWT_SECRET_PREVIOUS: OLD });
    expect(await environHash('JWT_SECRET')).toBe(createHash('sha256').update(NEXT).digest('hex'));
  });

  it('diagnoses the app after Redis restarted and its client gave up, though /health stays 200', async () => {
    await redis.stop();
    // The client reconnects three times, then gives up: every command fails from then on.
    await new Promise((r) => setTimeout(r, 2500));
    redis = await startRedis();
    expect((await fetch(h.healthUrl)).status).toBe(200);
    const register = await fetch(new URL('/api/auth/register', h.healthUrl), { method: 'POST', body: '{}' });
    expect(register.status).toBe(400);
    const run = await runActionBundle(
      'action-diagnose',
      {
        ...diagnoseInputs(h),
        'smoke-requests':
          'POST /api/auth/register {"email":"smoke@example.com"} -> 201\nPOST /api/auth/login -> 401',
        'log-window': '3s',
      },
      { secrets: [OLD, NEW, h.droplet.sshd?.privateKey ?? ''], timeoutMs: 90_000 },
    );
    expect(run.exitCode).toBe(0);
    const findings = JSON.parse(run.outputs.findings ?? '[]') as {
      severity: string;
      check: string;
      why: string;
    }[];
    expect(run.outputs.severity).toBe('P1');
    expect(findings).toContainEqual(
      expect.objectContaining({
        severity: 'P1',
        check: 'smoke',
        why: expect.stringMatching(/register answered 400, expected 201: .*The client is closed/),
      }),
    );
    expect(findings).toContainEqual(
      expect.objectContaining({
        severity: 'P1',
        check: 'logs',
        why: expect.stringMatching(/error flood: .*The client is closed/),
      }),
    );
    expect(findings.filter((f) => f.check === 'smoke')).toHaveLength(1);
  });

  it('refuses to write an env file that resolves outside app-dir, and leaves no backup beside its target', async () => {
    const envPath = `${h.appDir}/shared/.env`;
    const outside = `${h.droplet.hostRoot}/outside.env`;
    hostShell(h, 'mv -- "$1" "$2" && ln -s -- "$2" "$1"', envPath, outside);
    try {
      const before = readFileSync(h.droplet.realPath(outside), 'utf8');
      const run = await runActionBundle(
        'action-rotate-secret',
        { ...inputs(h), name: 'JWT_SECRET', value: 'x'.repeat(32) },
        { secrets: [OLD, NEW, h.droplet.sshd?.privateKey ?? ''] },
      );
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toMatch(
        /resolves to .*outside.env, outside .*; it is not written through\. Nothing was changed/,
      );
      expect(readFileSync(h.droplet.realPath(outside), 'utf8')).toBe(before);
      expect(hostShell(h, 'ls -1 "$1"', h.droplet.hostRoot)).not.toMatch(/outside\.env\.bak/);
    } finally {
      hostShell(h, 'rm -f -- "$1" && mv -- "$2" "$1"', envPath, outside);
    }
  });

  it('redacts a secret only pm2 holds, printed by the app into its log, from every output and the bundle', async () => {
    const secret = randomBytes(16).toString('hex');
    await h.droplet.pm2.command(['restart', APP_NAME, '--update-env'], { PLAID_SECRET: secret });
    const list = (await h.droplet.pm2.list()) as unknown as {
      name: string;
      pm2_env: { pm_err_log_path: string };
    }[];
    const errLog = list.find((p) => p.name === APP_NAME)?.pm2_env.pm_err_log_path as string;
    appendFileSync(errLog, `plaid: signing with ${secret}\n`);
    const bundle = join(h.droplet.root, 'diagnose-bundle');
    const run = await runActionBundle(
      'action-diagnose',
      {
        ...diagnoseInputs(h),
        'log-window': '0s',
        'bundle-dir': bundle,
      },
      { secrets: [h.droplet.sshd?.privateKey ?? ''], timeoutMs: 90_000 },
    );
    expect(run.exitCode).toBe(0);
    const files = Object.fromEntries(
      readdirSync(bundle, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name), 'utf8')]),
    );
    expect(Object.values(files).join('\n')).toContain('plaid: signing with ***');
    expect(
      findLeaks([secret], {
        stdout: run.stdout,
        summary: run.summary,
        outputs: JSON.stringify(run.outputs),
        ...files,
      }),
    ).toEqual([]);
  });

  it('names a dead pm2 daemon as such, and changes nothing', async () => {
    const list = (await h.droplet.pm2.list()) as unknown as { pid: number }[];
    const pids = [h.droplet.pm2.daemonPid() ?? 0, ...list.map((p) => p.pid)].filter((p) => p > 0);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    for (const until = Date.now() + 5000; Date.now() < until && pids.some(alive);)
      await new Promise((r) => setTimeout(r, 50));
    const run = await runActionBundle(
      'action-ops',
      { ...inputs(h), operation: 'restart' },
      { secrets: [h.droplet.sshd?.privateKey ?? ''] },
    );
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/pm2's daemon is not running .*Nothing was changed/);
    expect(existsSync(join(h.droplet.pm2.home, 'pm2.pid')) && alive(h.droplet.pm2.daemonPid() ?? 0)).toBe(
      false,
    );
  });
});
