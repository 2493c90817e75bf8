/** The `runbook` CLI runs the same health core with the action's names and defaults, redacting secrets. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** Asynchronous on purpose: the scripted server answers from this same process. */
function runbook(...args: string[]): Promise<{ code: number; out: string }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // jest's ESM flag is not for the CLI
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'cli/runbook.ts', ...args],
      { cwd: repoRoot, env },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}` });
      },
    );
  });
}

/** Action inputs as the CLI's flags. */
const flags = (inputs: Record<string, string>) =>
  Object.entries(inputs).flatMap(([name, value]) => [`--${name}`, value]);

describe('runbook health', () => {
  it('verifies with the action defaults and flags of the same names', async () => {
    const token = 'cli-s3cret-token-value';
    const r = await runbook(
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

  it('refuses an unknown flag and a bad value, naming them', async () => {
    const unknown = await runbook('health', '--url', server.url, '--retries', '3');
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/Input 'retries': is not an input of this command; known: url, /);
    expect((await runbook('health', '--url', server.url, '--timeout', 'abc')).out).toMatch(
      /error: Input 'timeout': "abc" is not a duration/,
    );
  });
});

describe('runbook deploy and rollback', () => {
  it('deploy and roll back over SSH from a terminal, the key read from a file and never printed', async () => {
    const { startDeployHost, hostInputs, sampleArtifact, sha } = await import('../../sandbox/deploy-host.js');
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const h = await startDeployHost();
    try {
      const keyFile = join(h.droplet.root, 'deploy_key');
      writeFileSync(keyFile, h.droplet.sshd?.privateKey ?? '', { mode: 0o600 });
      const common = { ...hostInputs([h]), 'ssh-key': `@${keyFile}` };
      const deployed = await runbook(
        'deploy',
        ...flags({
          ...common,
          'install-command': '',
          artifact: sampleArtifact(h, { sha: sha(1) }),
          sha: sha(1),
        }),
      );
      expect(deployed.out).toMatch(/: deployed \d{8}T\d{6}Z-0000001/);
      expect(deployed.code).toBe(0);
      const refused = await runbook('rollback', ...flags(common));
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(/error: .*there is no previous good release to roll back to/);
      expect(findLeaks([h.droplet.sshd?.privateKey ?? ''], { output: deployed.out + refused.out })).toEqual(
        [],
      );
    } finally {
      await h.droplet.stop();
    }
  });
});

describe('runbook rotate-secret', () => {
  it('rotates a provided key from a file on a host and audits it, printing fingerprints, never the values', async () => {
    const { startDeployHost, hostInputs, runningAppInputs, sampleArtifact, sha } =
      await import('../../sandbox/deploy-host.js');
    const { readFileSync, writeFileSync } = await import('node:fs');
    const { createHash } = await import('node:crypto');
    const { join } = await import('node:path');
    const h = await startDeployHost();
    try {
      const old = 'old-jwt-secret-value-0123456789abcdef';
      const value = 'new-jwt-secret-from-a-file-9876543210';
      const envFile = h.droplet.realPath(`${h.appDir}/shared/.env`);
      writeFileSync(envFile, `${readFileSync(envFile, 'utf8')}JWT_SECRET=${old}\n`);
      const keyFile = join(h.droplet.root, 'deploy_key');
      const valueFile = join(h.droplet.root, 'new-value');
      writeFileSync(keyFile, h.droplet.sshd?.privateKey ?? '', { mode: 0o600 });
      writeFileSync(valueFile, value, { mode: 0o600 });
      const common = { ...hostInputs([h]), 'ssh-key': `@${keyFile}` };
      const deployed = await runbook(
        'deploy',
        ...flags({
          ...common,
          'install-command': '',
          artifact: sampleArtifact(h, { sha: sha(1) }),
          sha: sha(1),
        }),
      );
      expect(deployed.code).toBe(0);
      const rotation = { ...runningAppInputs([h]), 'ssh-key': `@${keyFile}` };
      const rotated = await runbook(
        'rotate-secret',
        ...flags({ ...rotation, name: 'JWT_SECRET', value: `@${valueFile}` }),
      );
      const fp = (v: string) => createHash('sha256').update(v).digest('hex').slice(0, 8);
      expect(rotated.out).toContain(`${fp(old)} → ${fp(value)}`);
      expect(rotated.out).toContain('not updated: no github-token given');
      expect(rotated.code).toBe(0);
      expect(readFileSync(envFile, 'utf8')).toContain(`JWT_SECRET=${value}\nJWT_SECRET_PREVIOUS=${old}\n`);
      const audited = await runbook('rotate-secret', ...flags({ ...rotation, mode: 'audit', name: '' }));
      expect(audited.code).toBe(0);
      expect(audited.out).toMatch(new RegExp(`JWT_SECRET \\| ${fp(value)} \\| .* \\| 0 \\| ok`));
      expect(
        findLeaks([old, value, h.droplet.sshd?.privateKey ?? ''], { output: rotated.out + audited.out }),
      ).toEqual([]);
    } finally {
      await h.droplet.stop();
    }
  }, 60_000);
});

describe('runbook backup, verify and restore', () => {
  it('backs up, verifies and restores from a terminal over the same core, the URL read from a file and never printed', async () => {
    const { startDatabaseHost } = await import('../../sandbox/database-host.js');
    const { tableContents } = await import('../../sandbox/sample-data.js');
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const db = await startDatabaseHost();
    try {
      const { name, url } = await db.freshDatabase();
      const urlFile = join(db.droplet.root, 'database-url');
      writeFileSync(urlFile, url, { mode: 0o600 });
      const dir = join(db.droplet.root, 'backups');
      const before = await tableContents(url);
      const backedUp = await runbook('backup', '--database-url', `@${urlFile}`, '--path', dir);
      expect(backedUp.code).toBe(0);
      const path = /^path: (.+)$/m.exec(backedUp.out)?.[1] as string;
      expect(path).toMatch(new RegExp(`${name}-\\d{8}T\\d{6}Z\\.dump$`));
      const verified = await runbook('verify', '--backup', path, '--level', 'read');
      expect(verified.out).toMatch(/^verified: true$/m);
      await db.sql(name, 'TRUNCATE ledger.entries; DELETE FROM users');
      const refused = await runbook(
        'restore',
        '--database-url',
        `@${urlFile}`,
        '--backup',
        path,
        '--path',
        dir,
      );
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(/error: Input 'confirm'/);
      const restored = await runbook(
        'restore',
        '--database-url',
        `@${urlFile}`,
        '--backup',
        path,
        '--confirm',
        name,
        '--path',
        dir,
      );
      expect(restored.out).toMatch(/^restored: true$/m);
      expect(await tableContents(url)).toEqual(before);
      expect(
        findLeaks([db.postgres.password], {
          output: backedUp.out + verified.out + refused.out + restored.out,
        }),
      ).toEqual([]);
    } finally {
      await db.droplet.stop();
    }
  }, 60_000);
});

describe('runbook migrate and maintain', () => {
  it('applies, shows status and rolls back from a terminal; maintain reports connections', async () => {
    const { startDatabaseHost } = await import('../../sandbox/database-host.js');
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const db = await startDatabaseHost();
    try {
      const { name, url } = await db.freshDatabase();
      const urlFile = join(db.droplet.root, 'database-url');
      writeFileSync(urlFile, url, { mode: 0o600 });
      const dir = join(db.droplet.root, 'migrations');
      mkdirSync(dir);
      writeFileSync(join(dir, '001_a.sql'), 'CREATE TABLE a (id int);\n');
      writeFileSync(join(dir, '001_a_rollback.sql'), 'DROP TABLE a;\n');
      const common = ['--database-url', `@${urlFile}`, '--migrations-dir', dir];
      const refused = await runbook('migrate', ...common);
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(/no backup-manifest was given/);
      const applied = await runbook('migrate', ...common, '--require-backup', 'false');
      expect(applied.out).toMatch(/^applied: \["001_a\.sql"\]$/m);
      const rows = await db.sql<{ applied_by: string }>(name, 'SELECT applied_by FROM runbook_migrations');
      expect(rows[0]?.applied_by).toMatch(/^runbook CLI on /);
      // Gated like migrate: a rollback file typically drops a table.
      const gated = await runbook('migrate', ...common, '--mode', 'rollback');
      expect(gated.code).toBe(1);
      expect(gated.out).toMatch(/Refused to roll back migrations of .*no backup-manifest was given/);
      const rolled = await runbook('migrate', ...common, '--mode', 'rollback', '--require-backup', 'false');
      expect(rolled.code).toBe(0);
      const maintained = await runbook(
        'maintain',
        '--database-url',
        `@${urlFile}`,
        '--tasks',
        'connections,size',
      );
      expect(maintained.out).toMatch(/connections: \d+ of max_connections \d+ in use/);
      expect(
        findLeaks([db.postgres.password], {
          output: refused.out + applied.out + rolled.out + maintained.out,
        }),
      ).toEqual([]);
    } finally {
      await db.droplet.stop();
    }
  }, 60_000);
});

describe('runbook incident-report', () => {
  it('writes the post-mortem template with the findings read from a file and the recovery proven', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-incident-'));
    try {
      writeFileSync(
        join(dir, 'findings.json'),
        JSON.stringify([
          { severity: 'P1', where: 'db', check: 'locks', why: 'an UPDATE waits', next: 'kill it' },
        ]),
      );
      const r = await runbook(
        'incident-report',
        ...flags({
          title: 'api slow at 3am',
          outcome: 'success',
          'started-at': '2026-12-01T03:00:00Z',
          findings: `@${join(dir, 'findings.json')}`,
          'health-url': server.url,
          'incident-dir': dir,
        }),
      );
      expect(r.code).toBe(0);
      const md = readFileSync(join(dir, '2026-12-01-api-slow-at-3am.md'), 'utf8');
      expect(md).toContain('| Severity | P1 |');
      expect(md).toContain('- P1 db locks: an UPDATE waits — next: kill it');
      expect(md).toMatch(/\| Recovery \| recovered in \d+ s/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
