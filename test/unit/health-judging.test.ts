import { describe, expect, it } from '@jest/globals';
import { checkJsonAssertions, servedVersion, versionMatches } from '../../shared/src/health/assertions.js';
import {
  DEFAULT_JSON_EXPECTATION,
  parseHeaders,
  parseJsonExpectation,
  parseStatusRanges,
  statusMatches,
} from '../../shared/src/health/options.js';

const runbookHealthy = {
  status: 'healthy',
  timestamp: '2026-11-30T00:00:00Z',
  services: { database: 'connected', redis: 'connected', midnight: 'connected' },
};

describe('default body expectation', () => {
  it('accepts the runbook shape', () =>
    expect(checkJsonAssertions(runbookHealthy, DEFAULT_JSON_EXPECTATION)).toBeUndefined());

  it('names the disconnected service', () => {
    const body = { ...runbookHealthy, services: { ...runbookHealthy.services, redis: 'disconnected' } };
    expect(checkJsonAssertions(body, DEFAULT_JSON_EXPECTATION)).toBe(
      'body field `services.redis` is "disconnected" (expected "connected")',
    );
  });

  it('refuses an unhealthy status and a missing one', () => {
    expect(checkJsonAssertions({ status: 'unhealthy' }, DEFAULT_JSON_EXPECTATION)).toMatch(
      /`status` is "unhealthy" \(expected one of "healthy", "ok", "pass"\)/,
    );
    expect(checkJsonAssertions({}, DEFAULT_JSON_EXPECTATION)).toMatch(/`status` is missing/);
  });

  it('understands IETF health+json checks', () => {
    const pass = {
      status: 'pass',
      releaseId: 'abc',
      checks: { 'db:connections': [{ status: 'pass' }], 'cpu:utilization': [{ status: 'pass' }] },
    };
    expect(checkJsonAssertions(pass, DEFAULT_JSON_EXPECTATION)).toBeUndefined();
    const fail = { ...pass, checks: { ...pass.checks, 'db:connections': [{ status: 'fail' }] } };
    expect(checkJsonAssertions(fail, DEFAULT_JSON_EXPECTATION)).toMatch(
      /`checks.db:connections.0.status` is "fail"/,
    );
  });
});

describe('expect-json input', () => {
  it('reads path → value pairs, lists of alternatives and wildcards', () => {
    const assertions = parseJsonExpectation(
      'expect-json',
      '{"status": ["ok", "healthy"], "services.*": "connected", "build.number": 7}',
    );
    expect(assertions).toEqual([
      { path: ['status'], allowed: ['ok', 'healthy'] },
      { path: ['services', '*'], allowed: ['connected'] },
      { path: ['build', 'number'], allowed: [7] },
    ]);
    expect(
      checkJsonAssertions({ status: 'ok', services: {}, build: { number: 8 } }, assertions as never),
    ).toMatch(/`build.number` is 8/);
  });

  it('`none` turns body checks off, empty keeps the default', () => {
    expect(parseJsonExpectation('expect-json', 'none')).toBeNull();
    expect(parseJsonExpectation('expect-json', '')).toBe(DEFAULT_JSON_EXPECTATION);
  });

  it.each([
    ['{not json', /not valid JSON/],
    ['[1,2]', /must be a JSON object/],
    ['{}', /empty object/],
    ['{"a": {"b": 1}}', /must be a string, number, boolean, null or a list/],
    ['{"a..b": 1}', /empty segment/],
  ])('refuses %j naming the input', (raw, message) => {
    expect(() => parseJsonExpectation('expect-json', raw)).toThrow(/^Input 'expect-json': /);
    expect(() => parseJsonExpectation('expect-json', raw)).toThrow(message);
  });
});

describe('expected-status input', () => {
  it('reads codes, ranges and classes', () => {
    const ranges = parseStatusRanges('expected-status', '200, 204 3xx 400-401');
    expect([200, 204, 302, 401].every((code) => statusMatches(ranges, code))).toBe(true);
    expect([201, 404, 500].some((code) => statusMatches(ranges, code))).toBe(false);
  });
  it.each(['abc', '99', '600', '300-200', '6xx'])('refuses %j', (raw) => {
    expect(() => parseStatusRanges('expected-status', raw)).toThrow(/^Input 'expected-status': /);
  });
});

describe('headers input', () => {
  it('reads Name: value lines', () => {
    expect(parseHeaders('headers', 'Authorization: Bearer abc:def\nX-Trace: 1\n')).toEqual({
      authorization: 'Bearer abc:def',
      'x-trace': '1',
    });
  });
  it('refuses a malformed line without echoing it', () => {
    expect(() => parseHeaders('headers', 'Bearer sekrit-token')).toThrow(
      /^Input 'headers': each line must be/,
    );
    expect(() => parseHeaders('headers', 'Bearer sekrit-token')).not.toThrow(/sekrit/);
  });
});

describe('release matching', () => {
  const sha = '1a2b3c4d5e6f708192a3b4c5d6e7f80912a3b4c5';
  it.each([
    [sha, sha, true],
    [sha, '1a2b3c4', true],
    ['1a2b3c4', sha, true],
    [sha, '20261130T075100Z-1a2b3c4', true],
    ['v1.4.2', 'v1.4.2', true],
    [sha, '1a2b3c5', false],
    [sha, '1a2b3c', false],
    ['v1.4.2', 'v1.4.3', false],
    [sha, '20261130T075100Z-ffffff0', false],
  ])('expected %s, served %s → %s', (expected, served, match) =>
    expect(versionMatches(expected, served)).toBe(match),
  );

  it('reads the served release from the body, else a header', () => {
    expect(servedVersion({ releaseId: 'r1', version: 'v' }, {})).toBe('r1');
    expect(servedVersion({ version: '1.2.3' }, {})).toBe('1.2.3');
    expect(servedVersion('not json', { 'x-release-id': 'r9' })).toBe('r9');
    expect(servedVersion({}, {})).toBeUndefined();
  });
});
