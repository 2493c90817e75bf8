/**
 * The verification loop against real HTTP servers in this process. Waits are recorded instead of
 * slept, so the attempt/backoff/threshold logic is checked exactly and quickly.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { DEFAULT_JSON_EXPECTATION, type HealthOptions } from '../../shared/src/health/options.js';
import { verifyHealth } from '../../shared/src/health/verify.js';
import { silentLog } from '../../shared/src/log.js';
import { freePort } from '../../sandbox/net.js';
import { startScriptedServer, type ScriptedAnswer, type ScriptedServer } from '../helpers/scripted-server.js';

const healthy: ScriptedAnswer = {
  body: { status: 'healthy', services: { database: 'connected' }, releaseId: 'abc1234' },
};
const down: ScriptedAnswer = {
  status: 503,
  body: { status: 'unhealthy', services: { database: 'disconnected' } },
};

function options(urls: string[], overrides: Partial<HealthOptions> = {}): HealthOptions {
  return {
    urls: urls.map((u) => new URL(u)),
    expectedStatus: [{ from: 200, to: 200 }],
    expectJson: DEFAULT_JSON_EXPECTATION,
    timeoutMs: 2000,
    maxAttempts: 10,
    deadlineMs: 120_000,
    interval: { initialMs: 1000, factor: 2, maxMs: 8000, jitter: 0 },
    successThreshold: 1,
    tlsExpiry: 'warn',
    headers: {},
    followRedirects: false,
    ...overrides,
  };
}

let servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});
async function server(script: ScriptedAnswer[]): Promise<ScriptedServer> {
  const s = await startScriptedServer(script);
  servers.push(s);
  return s;
}
function recorder() {
  const waits: number[] = [];
  return { waits, deps: { log: silentLog, sleep: async (ms: number) => void waits.push(ms) } };
}

describe('verifyHealth', () => {
  it('passes at once on a healthy answer and reports what it saw', async () => {
    const s = await server([healthy]);
    const r = recorder();
    const report = await verifyHealth(options([s.url], { expectedVersion: 'abc1234' }), r.deps);
    expect(report).toMatchObject({ healthy: true, attempts: 1, statusCode: 200, version: 'abc1234' });
    expect(r.waits).toEqual([]);
  });

  it('backs off exponentially while failing and passes once healthy', async () => {
    const s = await server([down, down, down, healthy]);
    const r = recorder();
    const report = await verifyHealth(options([s.url]), r.deps);
    expect(report).toMatchObject({ healthy: true, attempts: 4 });
    expect(r.waits).toEqual([1000, 2000, 4000]);
  });

  it('requires success-threshold passes in a row and catches flapping', async () => {
    const s = await server([healthy, down, healthy, down, healthy, down, healthy, down]);
    const report = await verifyHealth(
      options([s.url], { successThreshold: 3, maxAttempts: 8 }),
      recorder().deps,
    );
    expect(report.healthy).toBe(false);
    expect(report.failure).toMatch(/never 3 attempts in a row \(flapping or crash-looping\?\)/);
  });

  it('stops early when the attempts left cannot make the threshold', async () => {
    const s = await server([down]);
    const report = await verifyHealth(
      options([s.url], { successThreshold: 3, maxAttempts: 4 }),
      recorder().deps,
    );
    expect(report.attempts).toBe(2);
    expect(report.failure).toMatch(/2 attempts left cannot make 3 passes in a row/);
  });

  it('keeps the base interval while confirming a pass streak', async () => {
    const s = await server([down, healthy]);
    const r = recorder();
    const report = await verifyHealth(options([s.url], { successThreshold: 3 }), r.deps);
    expect(report).toMatchObject({ healthy: true, attempts: 4 });
    expect(r.waits).toEqual([1000, 1000, 1000]);
  });

  it('stops at the deadline', async () => {
    const s = await server([down]);
    let clock = 0;
    const report = await verifyHealth(options([s.url], { deadlineMs: 5000 }), {
      log: silentLog,
      now: () => new Date(clock),
      sleep: async (ms) => void (clock += ms),
    });
    expect(report.healthy).toBe(false);
    expect(report.attempts).toBe(3); // waits 1000 + 2000 fit, the next 4000 would pass 5 s
    expect(report.failure).toMatch(/deadline 5s reached/);
  });

  it('needs every URL to pass in the same attempt and names the failing one', async () => {
    const good = await server([healthy]);
    const bad = await server([down]);
    const report = await verifyHealth(options([good.url, bad.url], { maxAttempts: 2 }), recorder().deps);
    expect(report.healthy).toBe(false);
    expect(report.failure).toContain(`${bad.url}: status 503, expected 200`);
    expect(report.lastFailure?.body).toContain('"database":"disconnected"');
  });

  it('says nothing listens when the connection is refused', async () => {
    const port = await freePort();
    const report = await verifyHealth(
      options([`http://127.0.0.1:${port}/health`], { maxAttempts: 2 }),
      recorder().deps,
    );
    expect(report.failure).toMatch(/connection refused.*ECONNREFUSED/);
    expect(report.statusCode).toBeUndefined();
  });

  it('after a start, looks every 100 ms until the app listens, spending no attempt on the refusals', async () => {
    const port = await freePort();
    const waits: number[] = [];
    const sleep = (ms: number) => (waits.push(ms), new Promise<void>((done) => setTimeout(done, ms)));
    // The app binds its port 400 ms after the switch, as a real app does once its modules load.
    const late = new Promise<ScriptedServer>((done) =>
      setTimeout(() => void startScriptedServer([healthy], port).then(done), 400),
    );
    const report = await verifyHealth(
      options([`http://127.0.0.1:${port}/health`], {
        startTimeoutMs: 10_000,
        interval: { initialMs: 5000, factor: 2, maxMs: 8000, jitter: 0 },
      }),
      { log: silentLog, sleep },
    );
    servers.push(await late);
    expect(report).toMatchObject({ healthy: true, attempts: 1 });
    expect(waits.length).toBeGreaterThan(0);
    expect(Math.max(...waits)).toBeLessThanOrEqual(100);
  });

  it('a start that never listens fails at start-timeout after one counted attempt', async () => {
    const port = await freePort();
    const report = await verifyHealth(
      options([`http://127.0.0.1:${port}/health`], { startTimeoutMs: 300, maxAttempts: 1000 }),
      { log: silentLog },
    );
    expect(report).toMatchObject({ healthy: false, attempts: 1 });
    expect(report.failure).toMatch(/past start-timeout 300ms: the app does not bind its port/);
  });

  it('times out a request that hangs', async () => {
    const s = await server([{ ...healthy, delayMs: 1500 }]);
    const report = await verifyHealth(options([s.url], { timeoutMs: 200, maxAttempts: 1 }), recorder().deps);
    expect(report.failure).toMatch(/no complete answer within 200 ms \(timeout\)/);
  });

  it('judges a redirect unless asked to follow it', async () => {
    const target = await server([healthy]);
    const s = await server([{ status: 302, headers: { location: target.url }, body: '' }]);
    const judged = await verifyHealth(options([s.url], { maxAttempts: 1 }), recorder().deps);
    expect(judged.failure).toMatch(/status 302, expected 200 \(redirect to .*set follow-redirects: true/);
    const followed = await verifyHealth(
      options([s.url], { maxAttempts: 1, followRedirects: true }),
      recorder().deps,
    );
    expect(followed.healthy).toBe(true);
  });

  it('sends the configured headers', async () => {
    const s = await server([healthy]);
    await verifyHealth(options([s.url], { headers: { authorization: 'Bearer t0ken' } }), recorder().deps);
    expect(s.requests[0]?.authorization).toBe('Bearer t0ken');
  });

  it('checks the body only as told', async () => {
    const s = await server([{ body: 'OK' }]);
    expect((await verifyHealth(options([s.url], { maxAttempts: 1 }), recorder().deps)).failure).toMatch(
      /body is not JSON/,
    );
    expect(
      (await verifyHealth(options([s.url], { maxAttempts: 1, expectJson: null }), recorder().deps)).healthy,
    ).toBe(true);
  });
});
