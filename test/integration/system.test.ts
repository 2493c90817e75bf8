/**
 * The sandbox's system programs on a machine that lacks one (sandbox/system.ts): simulated by hiding
 * programs from the preflight (RUNBOOK_SANDBOX_HIDE) and forbidding the install, as for a plain user.
 */
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { missingPackages, systemPackages } from '../../sandbox/system.js';

const root = join(import.meta.dirname, '..', '..');
const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');

function run(script: string, hide: string) {
  return spawnSync(process.execPath, [tsx, script], {
    cwd: root,
    env: { ...process.env, RUNBOOK_SANDBOX_HIDE: hide, RUNBOOK_SANDBOX_INSTALL: 'never' },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('system packages', () => {
  it('is one list: .ci/run installs through the same preflight the sandbox runs', () => {
    expect(systemPackages().map((p) => p.name)).toEqual(
      expect.arrayContaining(['openssh-server', 'postgresql', 'redis-server', 'nginx', 'certbot']),
    );
    expect(readFileSync(join(root, '.ci', 'run'), 'utf8')).toContain('sandbox/preflight.ts');
    expect(missingPackages()).toEqual([]);
  });

  it('the drill with nginx hidden stops at once, naming it and the apt-get line — before anything starts', () => {
    const started = Date.now();
    const drill = run('cli/drill.ts', 'nginx,redis-server');
    expect(drill.status).toBe(1);
    expect(drill.stderr).toContain(
      'sandbox: missing system packages: redis-server (redis-server not found); nginx (nginx not found). Install them first:',
    );
    expect(drill.stderr).toMatch(/apt-get install -y --no-install-recommends redis-server nginx/);
    expect(drill.stdout).not.toMatch(/starting the sandbox droplet/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('the preflight names a program missing from a package that is otherwise there', () => {
    const preflight = run('sandbox/preflight.ts', 'pg_restore');
    expect(preflight.status).toBe(1);
    expect(preflight.stderr).toMatch(/postgresql \(pg_restore not found\)/);
  });
});
