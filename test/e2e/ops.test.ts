/**
 * action-ops through its committed bundle against a sandbox host (real sshd, pm2, the sample app)
 * and a real redis-server: every operation planned, destructive ones refused without confirm,
 * results proven, secrets never printed, hostile patterns and settings quoted, never run.
 */
import dotenv from 'dotenv';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { runActionBundle, type ActionRun } from '../../sandbox/index.js';
import {
  APP_NAME,
  deployHostPool,
  hostInputs,
  runningAppInputs,
  sampleArtifact,
  sha,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { startRedis, type SandboxRedis } from '../../sandbox/redis.js';
import { startHostNginx, type SandboxNginx } from '../../sandbox/nginx.js';
import { certbotLineage } from '../../sandbox/certbot.js';
import { pipeline } from '../../shared/src/diagnose/redis.js';

const pool = deployHostPool();
let h: DeployHost;
const TOKEN = 'tok_live_abcdefghijklmnop0123';
const ENV = (port: number) =>
  `# Bunty\nPORT=${port}\nHOST=127.0.0.1\nexport STRIPE_ENABLED="true" # payments\nPLAID_ENABLED=true\n`;

beforeAll(async () => {
  h = await pool.host();
  writeFileSync(h.droplet.realPath(`${h.appDir}/shared/.env`), ENV(h.port));
  const deployed = await runActionBundle(
    'action-deploy',
    { ...hostInputs([h]), 'install-command': '', artifact: sampleArtifact(h, { sha: sha(1) }), sha: sha(1) },
    { secrets: [h.droplet.sshd?.privateKey ?? ''] },
  );
  expect(deployed.errors).toEqual([]);
}, 60_000);
afterAll(() => pool.stopAll());

const envFile = () => h.droplet.realPath(`${h.appDir}/shared/.env`);

/**
 * A GET through the sandbox nginx. After a reload, nginx's old workers close their idle keep-alive
 * connections; a request that raced onto one is sent again on a new connection, as browsers do.
 */
async function viaNginx(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if (code !== 'UND_ERR_SOCKET') throw error;
    return fetch(url);
  }
}
function ops(
  operation: string,
  extra: Record<string, string> = {},
  secrets: string[] = [],
): Promise<ActionRun> {
  return runActionBundle(
    'action-ops',
    { ...runningAppInputs([h]), operation, ...extra },
    { secrets: [h.droplet.sshd?.privateKey ?? '', TOKEN, ...secrets], timeoutMs: 90_000 },
  );
}
async function pm2App(): Promise<{ status: string; restarts: number }> {
  const list = JSON.parse(await h.droplet.pm2.command(['jlist'])) as {
    name: string;
    pm2_env: { status: string; restart_time: number };
  }[];
  const app = list.find((p) => p.name === APP_NAME);
  return { status: app?.pm2_env.status ?? 'missing', restarts: app?.pm2_env.restart_time ?? -1 };
}
const flags = async () =>
  (await (await fetch(`http://127.0.0.1:${h.port}/flags`)).json()) as Record<string, string | null>;

describe('pm2 operations', () => {
  it('restart: pm2 restart --update-env, then the health gate', async () => {
    const before = await pm2App();
    const run = await ops('restart');
    expect(run.errors).toEqual([]);
    expect(run.outputs.result).toBe('done');
    expect((await pm2App()).restarts).toBe(before.restarts + 1);
    expect(run.summary).toContain('| healthy |');
  }, 60_000);

  it('stop refuses without confirm (nothing changed), then stops with it and proves it; start brings it back healthy', async () => {
    const refused = await ops('stop');
    expect(refused.exitCode).toBe(1);
    expect(refused.errors[0]).toMatch(/^Input 'confirm': stop is destructive: type "bunty-backend"/);
    expect((await pm2App()).status).toBe('online');
    const stopped = await ops('stop', { confirm: APP_NAME });
    expect(stopped.errors).toEqual([]);
    expect((await pm2App()).status).toBe('stopped');
    expect(stopped.summary).toContain('stopped: pm2 says stopped, the health URL refuses');
    const started = await ops('start', { 'incident-report': 'true', environment: 'production' });
    expect(started.errors).toEqual([]);
    expect((await pm2App()).status).toBe('online');
    const incident = started.runnerFiles[started.outputs['incident-report'] ?? ''] ?? '';
    expect(incident).toMatch(/^# Incident \d{4}-\d{2}-\d{2}: start of bunty-backend/);
    expect(incident).toContain('## Lessons Learned');
  }, 90_000);

  it('a dry run plans and changes nothing, without confirm', async () => {
    const before = await pm2App();
    const run = await ops('stop', { 'dry-run': 'true' });
    expect(run.errors).toEqual([]);
    expect(run.outputs.result).toBe('planned');
    expect(run.stdout).toContain(`pm2 stop ${APP_NAME}, then prove it stopped`);
    expect(await pm2App()).toEqual(before);
  }, 60_000);
});

describe('set-env (the fallback flags)', () => {
  it('sets the flag in place, every other byte kept, and the running app sees it', async () => {
    const run = await ops('set-env', {
      settings: 'PLAID_ENABLED=false\nSILA_ENABLED=false',
      confirm: APP_NAME,
    });
    expect(run.errors).toEqual([]);
    expect(readFileSync(envFile(), 'utf8')).toBe(
      `${ENV(h.port).replace('PLAID_ENABLED=true', 'PLAID_ENABLED=false')}SILA_ENABLED=false\n`,
    );
    expect(await flags()).toEqual({ PLAID_ENABLED: 'false', STRIPE_ENABLED: 'true', SILA_ENABLED: 'false' });
  }, 60_000);

  it('one KEY=value a line: commas and = stay in the value', async () => {
    const run = await ops('set-env', { settings: 'PLAID_OPTIONS=mode=sandbox,retries=3', confirm: APP_NAME });
    expect(run.errors).toEqual([]);
    const read = dotenv.parse(readFileSync(envFile(), 'utf8'));
    expect(read.PLAID_OPTIONS).toBe('mode=sandbox,retries=3');
    expect(Object.keys(read)).not.toContain('retries');
  }, 60_000);

  it('a setting the app does not come up healthy with: the host is put back as found', async () => {
    const before = readFileSync(envFile(), 'utf8');
    const run = await ops('set-env', {
      settings: 'SAMPLE_MODE=unavailable',
      confirm: APP_NAME,
      'max-attempts': '3',
    });
    expect(run.exitCode).toBe(1);
    expect(run.outputs.result).toBe('reverted');
    expect(run.errors[0]).toMatch(
      /set-env SAMPLE_MODE failed: .*Every changed host was put back as found, restarted and verified healthy/,
    );
    expect(readFileSync(envFile(), 'utf8')).toBe(before);
    expect((await fetch(h.healthUrl)).status).toBe(200);
  }, 90_000);

  it('a secret set with set-env is masked and shown as a fingerprint, never printed', async () => {
    const key = 'sk_live_set_by_hand_at_3am_0123456789';
    const run = await ops('set-env', { settings: `STRIPE_SECRET_KEY=${key}`, confirm: APP_NAME }, [key]);
    expect(run.errors).toEqual([]);
    expect(run.stdout).toMatch(/STRIPE_SECRET_KEY: \(unset\) → \(secret, fingerprint [0-9a-f]{8}\)/);
    expect(readFileSync(envFile(), 'utf8')).toContain(`STRIPE_SECRET_KEY=${key}\n`);
  }, 60_000);

  it('refuses a hostile setting naming the input; a value full of shell syntax is written literally', async () => {
    const bad = await ops('set-env', { settings: 'A; rm -rf /=1', confirm: APP_NAME });
    expect(bad.exitCode).toBe(1);
    expect(bad.errors[0]).toMatch(/^Input 'settings': "A; rm -rf \/=1" is not KEY=value/);
    // Names that change how node, the loader or pm2 run — in the pm2 restart itself — are refused.
    const before = readFileSync(envFile(), 'utf8');
    for (const [settings, why] of [
      ['NODE_OPTIONS=--require /tmp/evil.js', /NODE_OPTIONS changes how node/],
      ['LD_PRELOAD=/tmp/evil.so', /LD_PRELOAD changes how node/],
      ['PM2_HOME=/tmp/x', /PM2_HOME changes how node/],
      ['plaid_enabled=false', /lower-case letters .*allow-lowercase-name: true/],
    ] as const) {
      const refused = await ops('set-env', { settings, confirm: APP_NAME });
      expect(refused.exitCode).toBe(1);
      expect(refused.errors[0]).toMatch(/^Input 'settings': /);
      expect(refused.errors[0]).toMatch(why);
    }
    expect(readFileSync(envFile(), 'utf8')).toBe(before);
    const canary = h.droplet.realPath('/tmp/ops-canary');
    const value = `$(touch /tmp/ops-canary) \`touch /tmp/ops-canary\`; "'`;
    const run = await ops('set-env', { settings: `STRIPE_ENABLED=${value}`, confirm: APP_NAME });
    expect(run.errors).toEqual([]);
    expect((await flags()).STRIPE_ENABLED).toBe(value);
    expect(existsSync(canary)).toBe(false);
  }, 90_000);
});

describe('flush-cache', () => {
  let redis: SandboxRedis;
  beforeAll(async () => {
    redis = await startRedis({ password: 'redis-ops-pass-0123' });
  });
  afterAll(() => redis?.stop());

  it('refuses without confirm; with it, counts then flushes only the chosen database', async () => {
    const url = new URL(redis.url);
    await pipeline(
      url,
      [
        ['AUTH', redis.password ?? ''],
        ['SELECT', '1'],
        ['SET', 'a', '1'],
        ['SET', 'b', '2'],
        ['SELECT', '0'],
        ['SET', 'keep', '1'],
      ],
      5000,
    );
    const refused = await ops('flush-cache', { 'redis-url': redis.url, 'redis-db': '1' }, [
      redis.password ?? '',
    ]);
    expect(refused.errors[0]).toMatch(/^Input 'confirm': flush-cache is destructive/);
    const run = await ops('flush-cache', { 'redis-url': redis.url, 'redis-db': '1', confirm: APP_NAME }, [
      redis.password ?? '',
    ]);
    expect(run.errors).toEqual([]);
    expect(JSON.parse(run.outputs.report ?? '{}')).toMatchObject({
      keysBefore: 2,
      keysAfter: 0,
      flushed: true,
    });
    const left = await pipeline(
      url,
      [['AUTH', redis.password ?? ''], ['SELECT', '1'], ['DBSIZE'], ['SELECT', '0'], ['DBSIZE']],
      5000,
    );
    expect([left[2], left[4]]).toEqual([0, 1]);
  }, 60_000);
});

describe('logs', () => {
  it('counts the lines matching a pattern, redacted, as a file; a hostile pattern is only a pattern', async () => {
    const list = JSON.parse(await h.droplet.pm2.command(['jlist'])) as {
      name: string;
      pm2_env: { pm_err_log_path: string };
    }[];
    const errLog = list.find((p) => p.name === APP_NAME)?.pm2_env.pm_err_log_path as string;
    appendFileSync(
      errLog,
      [
        'Error: proof generation failed (circuit 7)',
        `Error: upstream 401 for Authorization: Bearer ${TOKEN}`,
        'Error: proof generation failed (circuit 9)',
        '',
      ].join('\n'),
    );
    const out = h.droplet.realPath('/tmp/ops-logs');
    const run = await ops('logs', {
      pattern: 'proof generation failed|Bearer',
      'log-kind': 'err',
      'output-dir': out,
    });
    expect(run.errors).toEqual([]);
    const [extract] = JSON.parse(run.outputs.report ?? '[]') as { matched: number; file: string }[];
    expect(extract?.matched).toBe(3);
    const text = readFileSync(extract?.file ?? '', 'utf8');
    expect(text).toContain('Bearer ***');
    expect(text).not.toContain(TOKEN);
    const canary = h.droplet.realPath('/tmp/logs-canary');
    const hostile = await ops('logs', { pattern: '$(touch /tmp/logs-canary)', 'output-dir': out });
    expect(hostile.errors).toEqual([]);
    expect(existsSync(canary)).toBe(false);
    // Not a valid ERE: grep's own error is an input error, never "matched 0".
    const invalid = await ops('logs', { pattern: 'proof generation failed (circuit', 'output-dir': out });
    expect(invalid.exitCode).toBe(1);
    expect(invalid.errors[0]).toMatch(
      /^Input 'pattern': "proof generation failed \(circuit" is not an extended regular expression \(grep -E: Unmatched \( or/,
    );
    const window = await ops('logs', { since: '1h', 'log-kind': 'err', 'output-dir': out });
    expect(window.stdout).toContain('the lines carry no timestamps');
  }, 60_000);
});

describe('the maintenance page (nginx)', () => {
  let nginx: SandboxNginx;
  beforeAll(async () => {
    nginx = await startHostNginx(h);
  }, 30_000);
  afterAll(() => nginx?.stop());

  const maintenance = (operation: string, extra: Record<string, string> = {}) =>
    ops(operation, {
      'site-url': `${nginx.url}/health`,
      'nginx-site': nginx.site,
      'nginx-snippet': `${nginx.snippets}/bunty-maintenance.conf`,
      'maintenance-flag': `${h.appDir}/shared/maintenance/on`,
      'maintenance-page-dir': `${h.appDir}/shared/maintenance/page`,
      'nginx-test-command': nginx.testCommand,
      'nginx-reload-command': nginx.reloadCommand,
      ...extra,
    });

  it('a broken nginx configuration: nginx -t fails, the snippet and include are taken back, nothing reloaded', async () => {
    const siteFile = h.droplet.realPath(nginx.site);
    const good = readFileSync(siteFile, 'utf8');
    writeFileSync(siteFile, `${good}\nserver { listen 127.0.0.1:1; bogus_directive on; }\n`);
    try {
      const run = await maintenance('maintenance-setup');
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toMatch(
        /nginx -t failed, so the snippet and the include were taken back out and nginx was NOT reloaded/,
      );
      expect(readFileSync(siteFile, 'utf8')).not.toContain('include');
      expect(existsSync(h.droplet.realPath(`${nginx.snippets}/bunty-maintenance.conf`))).toBe(false);
      expect((await viaNginx(`${nginx.url}/health`)).status).toBe(200);
    } finally {
      writeFileSync(siteFile, good);
    }
  }, 60_000);

  it('setup once; on → 503 with the page (refused without confirm); off → the app again', async () => {
    const setup = await maintenance('maintenance-setup');
    expect(setup.errors).toEqual([]);
    expect(readFileSync(h.droplet.realPath(nginx.site), 'utf8')).toContain(
      `include ${nginx.snippets}/bunty-maintenance.conf;`,
    );
    expect((await maintenance('maintenance-on')).errors[0]).toMatch(
      /^Input 'confirm': maintenance-on is destructive/,
    );
    expect((await viaNginx(`${nginx.url}/health`)).status).toBe(200);
    const on = await maintenance('maintenance-on', { confirm: APP_NAME });
    expect(on.errors).toEqual([]);
    const page = await viaNginx(`${nginx.url}/api/ping`);
    expect(page.status).toBe(503);
    expect(page.headers.get('retry-after')).toBe('300');
    expect(await page.text()).toContain('down for maintenance');
    const off = await maintenance('maintenance-off');
    expect(off.errors).toEqual([]);
    expect((await viaNginx(`${nginx.url}/health`)).status).toBe(200);
    expect(off.summary).toMatch(/answers 200/);
  }, 60_000);
});

describe('logrotate', () => {
  it('reports pm2-logrotate missing, settings that differ and rotated logs beyond retain; sets them when asked', async () => {
    const logs = `${h.droplet.pm2.home}/logs`;
    for (let day = 1; day <= 4; day++)
      writeFileSync(`${logs}/bunty-backend-error__2026-11-0${day}_00-00-00.log`, `old ${day}\n`);
    const check = await ops('logrotate', { retain: '2', 'max-size': '50M' });
    expect(check.errors).toEqual([]);
    const [found] = JSON.parse(check.outputs.report ?? '[]') as {
      installed: boolean;
      differs: string[];
      beyondRetain: string[];
      set: boolean;
    }[];
    expect(found).toMatchObject({
      installed: false,
      differs: ['max_size', 'retain', 'compress'],
      set: false,
    });
    expect(found?.beyondRetain.sort()).toEqual([
      'bunty-backend-error__2026-11-01_00-00-00.log',
      'bunty-backend-error__2026-11-02_00-00-00.log',
    ]);
    expect(check.stdout).toMatch(/::warning::.*pm2-logrotate is not installed/);
    const set = await ops('logrotate', { retain: '2', 'max-size': '50M', 'logrotate-set': 'true' });
    expect(set.errors).toEqual([]);
    expect(
      JSON.parse(readFileSync(`${h.droplet.pm2.home}/module_conf.json`, 'utf8'))['pm2-logrotate'],
    ).toMatchObject({
      max_size: '50M',
      retain: '2',
      compress: 'true',
    });
    expect(existsSync(`${logs}/bunty-backend-error__2026-11-01_00-00-00.log`)).toBe(true);
    const bad = await ops('logrotate', { 'max-size': '10 M; reboot' });
    expect(bad.errors[0]).toMatch(/^Input 'max-size'/);
  }, 60_000);
});

describe('certificates (certbot)', () => {
  it('lists what certbot knows with days left, warns under cert-warn-days; refuses without certbot', async () => {
    const { command } = certbotLineage(
      h,
      'api.bunty.example',
      ['api.bunty.example', 'www.bunty.example'],
      10,
      'soon',
    );
    const run = await ops('certificates', { 'certbot-command': command });
    expect(run.errors).toEqual([]);
    const [found] = JSON.parse(run.outputs.report ?? '[]') as {
      certificates: { name: string; domains: string[]; daysLeft: number; status: string }[];
    }[];
    expect(found?.certificates).toEqual([
      expect.objectContaining({
        name: 'api.bunty.example',
        domains: ['api.bunty.example', 'www.bunty.example'],
        status: 'VALID',
      }),
    ]);
    expect(found?.certificates[0]?.daysLeft).toBeGreaterThanOrEqual(8);
    expect(found?.certificates[0]?.daysLeft).toBeLessThanOrEqual(10);
    expect(run.stdout).toMatch(
      /::warning::.*api\.bunty\.example \(api\.bunty\.example www\.bunty\.example\) expires in \d+ days/,
    );
    const missing = await ops('certificates', { 'certbot-command': 'certbot-not-here' });
    expect(missing.exitCode).toBe(1);
    expect(missing.errors[0]).toMatch(/certbot is not installed \(certbot-not-here is not on the PATH/);
  }, 60_000);

  it('renew: refused without confirm; with it certbot renews (not due here), nginx is tested, and a failing test reloads nothing', async () => {
    const { command } = certbotLineage(h, 'ok.bunty.example', ['ok.bunty.example'], 80, 'later');
    const refused = await ops('certificates', { 'certbot-command': command, renew: 'true' });
    expect(refused.errors[0]).toMatch(/^Input 'confirm': certificate renewal is destructive/);
    const broken = await ops('certificates', {
      'certbot-command': command,
      renew: 'true',
      confirm: APP_NAME,
      'nginx-test-command': 'echo "nginx: [emerg] unknown directive" >&2; exit 1',
      'nginx-reload-command': 'touch /tmp/reloaded-anyway',
    });
    expect(broken.exitCode).toBe(1);
    expect(broken.errors[0]).toMatch(/certbot renewed, but .* fails, so nginx was NOT reloaded/);
    expect(existsSync(h.droplet.realPath('/tmp/reloaded-anyway'))).toBe(false);
    const renewed = await ops('certificates', {
      'certbot-command': command,
      renew: 'true',
      confirm: APP_NAME,
      'nginx-test-command': 'true',
      'nginx-reload-command': 'true',
    });
    expect(renewed.errors).toEqual([]);
    expect(renewed.summary).toMatch(/renewed — .*not (yet )?due/i);
  }, 120_000);
});
