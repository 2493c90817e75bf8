/**
 * action-health through its committed bundle, run as the runner runs it, against the sandbox
 * droplet: the sample app under real pm2, a real PostgreSQL, and a real https server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Droplet, freePort, type SampleApp } from '../../sandbox/index.js';
import { runActionBundle, type ActionRun } from '../../sandbox/action-runner.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js';

let droplet: Droplet;
let app: SampleApp;
let tlsApp: SampleApp;
let counter: ScriptedServer;

const RELEASE = '20261130T075100Z-1a2b3c4';
const fast = { interval: '100ms', timeout: '2s' };

beforeAll(async () => {
  droplet = await Droplet.start({ postgres: true });
  [app, tlsApp] = await Promise.all([
    droplet.startApp({ name: 'bunty-backend', releaseId: RELEASE }),
    droplet.startApp({ name: 'bunty-tls', tlsDays: 3 }),
  ]);
  counter = await startScriptedServer([{ status: 200 }]);
});

afterAll(async () => {
  await counter?.close();
  await droplet?.stop();
});

function health(inputs: Record<string, string>, secrets: string[] = []): Promise<ActionRun> {
  return runActionBundle(
    'action-health',
    { ...fast, ...inputs },
    { secrets: [droplet.postgres?.password ?? '', ...secrets] },
  );
}

describe('action-health bundle', () => {
  it('passes a healthy app and writes its outputs', async () => {
    await droplet.setBehaviour(app, { mode: 'healthy' });
    const run = await health({
      url: app.healthUrl,
      'expected-version': '1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5',
    });
    expect(run.exitCode).toBe(0);
    expect(run.outputs).toMatchObject({
      healthy: 'true',
      attempts: '1',
      'status-code': '200',
      version: RELEASE,
    });
    expect(Number(run.outputs['latency-ms'])).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(run.outputs.report ?? '{}')).toMatchObject({ healthy: true, attempts: 1 });
    expect(run.summary).toContain('### ✅ Healthy');
    expect(run.errors).toEqual([]);
  });

  it('fails on 503 with the status and the body in the error', async () => {
    await droplet.setBehaviour(app, { mode: 'unavailable' });
    const run = await health({ url: app.healthUrl, 'max-attempts': '2' });
    expect(run.exitCode).toBe(1);
    expect(run.outputs.healthy).toBe('false');
    expect(run.outputs['status-code']).toBe('503');
    expect(run.errors).toHaveLength(1);
    expect(run.errors[0]).toMatch(/status 503, expected 200/);
    expect(run.errors[0]).toMatch(/Last status: 503\. Body: .*"database":"disconnected"/);
    expect(run.errors[0]).toMatch(/What to do: read the app log/);
    expect(run.summary).toMatch(/\| 2 \| .* \| 503 \| .* \| FAIL: status 503/);
  });

  it('fails on 200 with status "unhealthy"', async () => {
    await droplet.setBehaviour(app, { mode: 'unhealthy' });
    const run = await health({ url: app.healthUrl, 'max-attempts': '1' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/body field `status` is "unhealthy"/);
  });

  it('fails when a service is disconnected, naming it', async () => {
    await droplet.setBehaviour(app, { mode: 'disconnected' });
    const run = await health({ url: app.healthUrl, 'max-attempts': '1' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/`services.redis` is "disconnected"/);
  });

  it('fails when the wrong release is serving', async () => {
    await droplet.setBehaviour(app, { mode: 'healthy' });
    const run = await health({
      url: app.healthUrl,
      'max-attempts': '2',
      'expected-version': 'ffffffffffffffffffffffffffffffffffffffff',
    });
    expect(run.exitCode).toBe(1);
    expect(run.outputs.version).toBe(RELEASE);
    expect(run.errors[0]).toMatch(
      new RegExp(`serving release ${RELEASE}, expected f{40} \\(old code still running\\?\\)`),
    );
  });

  it('fails an answer slower than max-latency', async () => {
    await droplet.setBehaviour(app, { mode: 'slow', slowMs: 600 });
    const run = await health({ url: app.healthUrl, 'max-attempts': '1', 'max-latency': '300ms' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/answered in \d+ ms, slower than max-latency 300 ms/);
  });

  it('becomes healthy after failures', async () => {
    await droplet.setBehaviour(app, { sequence: ['unavailable', 'unavailable', 'unavailable', 'healthy'] });
    const run = await health({ url: app.healthUrl, 'max-attempts': '6' });
    expect(run.exitCode).toBe(0);
    expect(run.outputs).toMatchObject({ healthy: 'true', attempts: '4' });
  });

  it('fails a flapping app with success-threshold 3', async () => {
    await droplet.setBehaviour(app, { sequence: ['healthy', 'unavailable'], cycle: true });
    const run = await health({ url: app.healthUrl, 'max-attempts': '8', 'success-threshold': '3' });
    expect(run.exitCode).toBe(1);
    expect(run.errors[0]).toMatch(/never 3 attempts in a row \(flapping or crash-looping\?\)/);
  });

  it('fails fast and clearly when nothing listens', async () => {
    const port = await freePort();
    const run = await health({ url: `http://127.0.0.1:${port}/health`, 'max-attempts': '2' });
    expect(run.exitCode).toBe(1);
    expect(run.outputs['status-code']).toBe('');
    expect(run.errors[0]).toMatch(/connection refused: nothing listens on that port .*\[ECONNREFUSED\]/);
  });

  describe('https with a self-signed certificate that expires in 3 days', () => {
    it('is refused as untrusted without its CA, at once', async () => {
      const run = await health({ url: tlsApp.healthUrl, 'max-attempts': '5' });
      expect(run.exitCode).toBe(1);
      expect(run.outputs.attempts).toBe('1');
      expect(run.errors[0]).toMatch(/self-signed and not trusted \(give its CA in `tls-ca`\)/);
    });

    it('fails on the near expiry when tls-expiry is fail', async () => {
      const run = await health({
        url: tlsApp.healthUrl,
        'tls-ca': tlsApp.certificate?.pem ?? '',
        'tls-min-days': '14',
        'tls-expiry': 'fail',
      });
      expect(run.exitCode).toBe(1);
      expect(run.outputs.attempts).toBe('1');
      expect(run.errors[0]).toMatch(
        /TLS certificate expires in [23](\.\d)? days .*less than tls-min-days 14: renew it/,
      );
    });

    it('warns and passes when tls-expiry is warn', async () => {
      const run = await health({
        url: tlsApp.healthUrl,
        'tls-ca': tlsApp.certificate?.pem ?? '',
        'tls-min-days': '14',
      });
      expect(run.exitCode).toBe(0);
      expect(
        run.annotations
          .filter((a) => a.level === 'warning')
          .map((a) => a.message)
          .join('\n'),
      ).toMatch(/expires in [23](\.\d)? days/);
    });
  });

  describe('the database check', () => {
    it('passes with connections and size, without printing the password', async () => {
      await droplet.setBehaviour(app, { mode: 'healthy' });
      const run = await health({ url: app.healthUrl, 'database-url': droplet.postgres?.url ?? '' });
      expect(run.exitCode).toBe(0);
      const report = JSON.parse(run.outputs.report ?? '{}');
      expect(report.database).toMatchObject({ ok: true, maxConnections: 100 });
      expect(report.database.sizeBytes).toBeGreaterThan(0);
      expect(run.summary).toContain('#### Database');
    });

    it('fails on a wrong password and says why, masking both passwords', async () => {
      const wrong = 'wr0ng-Passw0rd-xyz';
      const url = (droplet.postgres?.url ?? '').replace(droplet.postgres?.password ?? '', wrong);
      const run = await health({ url: app.healthUrl, 'database-url': url }, [wrong]);
      expect(run.exitCode).toBe(1);
      expect(run.errors[0]).toMatch(
        /database check failed: password authentication failed for user "bunty" \[28P01\]/,
      );
    });
  });

  it('sends masked headers', async () => {
    const token = 'Bearer s3cr3t-t0ken-value';
    const before = counter.requests.length;
    const run = await health(
      { url: counter.url, headers: `Authorization: ${token}`, 'expect-json': 'none' },
      [token, 's3cr3t-t0ken-value'],
    );
    expect(run.exitCode).toBe(0);
    expect(counter.requests[before]?.authorization).toBe(token);
  });

  describe('bad inputs name the input, exit 1 and send no request', () => {
    it.each([
      [{ url: 'not a url' }, /^Input 'url': "not a url" is not a URL/],
      [{ url: '' }, /^Input 'url': is required/],
      [{ timeout: 'abc' }, /^Input 'timeout': "abc" is not a duration/],
      [{ 'max-attempts': '0' }, /^Input 'max-attempts': 0 is out of range/],
      [{ 'expect-json': '{"status": ' }, /^Input 'expect-json': is not valid JSON/],
      [{ 'expected-status': 'ok' }, /^Input 'expected-status': "ok" is not a status code/],
      [{ 'success-threshold': 'three' }, /^Input 'success-threshold': "three" is not a whole number/],
      [{ 'tls-expiry': 'panic' }, /^Input 'tls-expiry': "panic" is not one of: fail, warn/],
      [{ 'database-url': 'mysql://u:pw-zzz@h/db' }, /^Input 'database-url': uses mysql:/],
      [{ headers: 'no colon here' }, /^Input 'headers': each line must be `Name: value`/],
    ])('%j', async (bad, message) => {
      const before = counter.requests.length;
      const run = await health({ url: counter.url, ...bad }, ['pw-zzz', 'no colon here']);
      expect(run.exitCode).toBe(1);
      expect(run.errors).toHaveLength(1);
      expect(run.errors[0]).toMatch(message);
      expect(run.errors[0]).toMatch(/Nothing was changed on any target/);
      expect(counter.requests.length).toBe(before);
    });
  });
});
