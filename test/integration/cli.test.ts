/** The `runbook` CLI runs the same health core with the action's names and defaults, redacting secrets. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { findLeaks } from '../../sandbox/leak-guard.js';
import { repoRoot } from '../../sandbox/action-runner.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js';

let server: ScriptedServer;
beforeAll(async () => {
  server = await startScriptedServer((n) =>
    n < 1
      ? { status: 503, body: { status: 'unhealthy' } }
      : { body: { status: 'healthy', releaseId: 'abc1234' } },
  );
});
afterAll(() => server.close());

function runbook(...args: string[]) {
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'cli/runbook.ts', ...args], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
  });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

describe('runbook health', () => {
  it('verifies with the action defaults and flags of the same names', () => {
    const token = 'cli-s3cret-token-value';
    const r = runbook(
      'health',
      '--url',
      server.url,
      '--interval=50ms',
      '--expected-version',
      'abc1234',
      '--headers',
      `Authorization: Bearer ${token}`,
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/healthy after 2 attempt\(s\), \d+ ms, release abc1234/);
    expect(server.requests.at(-1)?.authorization).toBe(`Bearer ${token}`);
    expect(findLeaks([token], { output: r.out })).toEqual([]);
  });

  it('refuses an unknown flag and a bad value, naming them', () => {
    expect(runbook('health', '--url', server.url, '--retries', '3')).toMatchObject({ code: 1 });
    expect(runbook('health', '--url', server.url, '--retries', '3').out).toMatch(
      /Input 'retries': is not an input of this command; known: url, /,
    );
    expect(runbook('health', '--url', server.url, '--timeout', 'abc').out).toMatch(
      /error: Input 'timeout': "abc" is not a duration/,
    );
  });
});
