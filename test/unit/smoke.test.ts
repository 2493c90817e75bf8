/** Smoke requests: parsing the input (health/smoke.ts). */
import { describe, expect, it } from '@jest/globals';
import { parseSmokeRequests } from '../../shared/src/health/smoke.js';

describe('parseSmokeRequests', () => {
  it('reads METHOD /path [json body] -> status', () => {
    expect(
      parseSmokeRequests('smoke-requests', [
        'POST /api/auth/login {"email":"a@b.c","password":"x"} -> 401',
        'GET /api/items?limit=1 → 2xx',
      ]),
    ).toEqual([
      {
        method: 'POST',
        path: '/api/auth/login',
        body: '{"email":"a@b.c","password":"x"}',
        expected: [{ from: 401, to: 401 }],
        line: 'POST /api/auth/login {"email":"a@b.c","password":"x"} -> 401',
      },
      {
        method: 'GET',
        path: '/api/items?limit=1',
        expected: [{ from: 200, to: 299 }],
        line: 'GET /api/items?limit=1 → 2xx',
      },
    ]);
  });

  it.each([
    ['no status', 'GET /health'],
    ['an absolute URL', 'GET https://x/health -> 200'],
    ['a body that is not JSON', 'POST /x {email: 1} -> 200'],
    ['a status that is not one', 'GET /x -> 999'],
  ])('refuses %s, naming the input', (_what, line) => {
    expect(() => parseSmokeRequests('smoke-requests', [line])).toThrow(/^Input 'smoke-requests'/);
  });
});
