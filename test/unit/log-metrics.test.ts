/** The app's recent logs read as the runbook's Performance Metrics (shared/src/diagnose/log-metrics.ts). */
import { describe, expect, it } from '@jest/globals';
import { clientGaveUp, foldMessage, lineTime, logMetrics } from '../../shared/src/diagnose/log-metrics.js';
import { judge, type Observations } from '../../shared/src/diagnose/judge.js';

const NOW = new Date('2026-12-02T12:00:00Z');
const at = (minutesAgo: number) => new Date(NOW.getTime() - minutesAgo * 60_000).toISOString();

describe('lineTime', () => {
  it.each([
    ['2026-12-02T11:59:00: poller: boom', Date.parse('2026-12-02T11:59:00Z')],
    ['{"level":50,"time":1764676740000,"msg":"x"}', 1764676740000],
    [
      '127.0.0.1 - - [02/Dec/2026:11:59:00 +0000] "GET / HTTP/1.1" 500 12',
      Date.parse('2026-12-02T11:59:00Z'),
    ],
    ['no time at all', undefined],
  ])('%s', (line, expected) => {
    expect(lineTime(line)).toBe(expected);
  });
});

describe('logMetrics', () => {
  it('compares the last five minutes with the minutes before, and counts the top messages folded', () => {
    const earlier = Array.from({ length: 4 }, (_, i) => `${at(40 - i * 5)} job 17 failed after 3 tries`);
    const recent = Array.from(
      { length: 50 },
      (_, i) => `${at(4 - i / 20)} register failed: The client is closed (id ${i})`,
    );
    const m = logMetrics([...earlier, ...recent], [], NOW);
    expect(m.recentErrorsPerMinute).toBe(10);
    expect(m.earlierErrorsPerMinute).toBeLessThan(0.2);
    expect(m.topErrors[0]).toEqual({ message: 'register failed: The client is closed (id N)', count: 50 });
  });

  it('reads morgan-like request lines: count, average time, error statuses', () => {
    const out = [
      'POST /api/auth/register 400 1.250 ms',
      'GET /health 200 0.750 ms',
      'GET /api/x 502 3.000 ms - 12',
    ];
    expect(logMetrics([], out, NOW).requests).toEqual({
      count: 3,
      serverErrors: 1,
      clientErrors: 1,
      averageMs: 1.7,
    });
  });

  it('folds what varies between occurrences', () => {
    expect(foldMessage('2026-12-02T11:59:00: user 5f0c2a1e-0000-4000-8000-000000000001 took 350 ms')).toBe(
      'user <id> took N ms',
    );
  });
});

describe('clientGaveUp', () => {
  it('finds the newest line where a Redis or database client says it gave up', () => {
    expect(
      clientGaveUp([
        'ok',
        'ClientClosedError: The client is closed',
        'Error: Connection terminated unexpectedly',
        'x',
      ]),
    ).toBe('Error: Connection terminated unexpectedly');
    expect(clientGaveUp(['TypeError: x is undefined'])).toBeUndefined();
  });
});

describe('judging the logs', () => {
  const observations = (errorsPerMinuteNow: number, earlier?: number): Observations => ({
    app: 'api',
    hosts: [
      {
        host: 'h1',
        errorLines: 0,
        logMetrics: {
          api: {
            errorsPerMinuteNow,
            watchMs: 5000,
            ...(earlier !== undefined ? { earlierErrorsPerMinute: earlier } : {}),
            topErrors: [{ message: 'poller: The client is closed', count: 40 }],
          },
        },
      },
    ],
    external: [],
    slowMs: 2000,
    diskWarnPercent: 85,
  });
  const logFindings = (o: Observations) => judge(o).filter((f) => f.check === 'logs');

  it('a flood is P1, a jump over the earlier rate P2, the usual rate nothing', () => {
    expect(logFindings(observations(72))).toEqual([
      expect.objectContaining({
        severity: 'P1',
        why: expect.stringMatching(
          /error flood: api logs 72 error lines a minute \(counted over 5 s\) — most frequent: "poller: The client is closed" ×40/,
        ),
      }),
    ]);
    expect(logFindings(observations(12, 2))).toEqual([
      expect.objectContaining({
        severity: 'P2',
        why: expect.stringMatching(/error rate up: .*12 .*, 2 before/),
      }),
    ]);
    expect(logFindings(observations(12, 10))).toEqual([]);
    expect(logFindings(observations(0))).toEqual([]);
  });

  it("a dependency's client that gave up is P1 while the log is fresh, nothing once it is old", () => {
    const gaveUp = (age: number): Observations => {
      const o = observations(0);
      const m = o.hosts[0]?.logMetrics?.api;
      if (m)
        Object.assign(m, { errorLogAgeSeconds: age, clientGaveUp: 'register failed: The client is closed' });
      return o;
    };
    expect(logFindings(gaveUp(30))).toEqual([
      expect.objectContaining({
        severity: 'P1',
        why: expect.stringMatching(/client in api has given up .*written 30 s ago/),
      }),
    ]);
    expect(logFindings(gaveUp(3600))).toEqual([]);
  });

  it("a flood names the newest gave-up line too, since its most frequent line is often the client's reconnect noise", () => {
    const o = observations(72);
    const m = o.hosts[0]?.logMetrics?.api;
    if (m)
      Object.assign(m, {
        topErrors: [{ message: 'redis error: connect ECONNREFUSED N.N:N', count: 5 }],
        clientGaveUp: 'register failed: The client is closed',
      });
    expect(logFindings(o)).toEqual([
      expect.objectContaining({
        severity: 'P1',
        why: expect.stringMatching(
          /error flood: .*most frequent: "redis error[^"]*" ×5; newest client error: "register failed: The client is closed"/,
        ),
      }),
    ]);
  });
});
