/**
 * The `runbook` CLI, run as its committed standalone bundle (cli/dist/runbook.mjs) on the runner's
 * Node 24 — and on this machine's Node 20 where it says so: the same cores with the action's names
 * and defaults, help from action.yml, environments from runbook.yml, secrets from RUNBOOK_* or
 * @file, outputs as --json, and exit codes that mean something. One deploy host and one database
 * host serve the whole file.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { findLeaks } from '../../sandbox/leak-guard.js';
import { repoRoot } from '../../sandbox/action-runner.js';
import { machineNode, runnerNode } from '../../sandbox/runner-node.js';
import { startDatabaseHost, type DatabaseHost } from '../../sandbox/database-host.js';
import { tableContents } from '../../sandbox/sample-data.js';
import {
  hostInputs,
  runningAppInputs,
  sampleArtifact,
  sha,
  startDeployHost,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { ACTION_SPECS } from '../../cli/action-specs.js';
import { OPERATIONS } from '../../shared/src/ops/entry.js';
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js';

const BUNDLE = join(repoRoot, 'cli', 'dist', 'runbook.mjs');

let server: ScriptedServer;
let h: DeployHost;
let db: DatabaseHost;
let work: string;
beforeAll(async () => {
  server = await startScriptedServer((n) =>
    n % 2 === 0
      ? { status: 503, body: { status: 'unhealthy' } }
      : { body: { status: 'healthy', releaseId: 'abc1234' } },
  );
  [h, db] = await Promise.all([startDeployHost(), startDatabaseHost()]);
  work = mkdtempSync(join(tmpdir(), 'runbook-cli-'));
}, 60_000);
afterAll(async () => {
  server?.close();
  await Promise.all([h?.droplet.stop(), db?.droplet.stop()]);
  rmSync(work, { recursive: true, force: true });
});

interface CliRun {
  code: number;
  out: string;
  stdout: string;
  stderr: string;
}

/**
 * Asynchronous on purpose: the scripted server answers from this same process. `--verbose` writes
 * the step lines a terminal would see (stderr is not one here).
 */
function runbookOn(
  node: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; verbose?: boolean } = {},
): Promise<CliRun> {
  const env = { ...process.env, ...options.env };
  delete env.NODE_OPTIONS; // jest's ESM flag is not for the CLI
  return new Promise((resolve) => {
    execFile(
      node,
      [BUNDLE, ...args, ...(options.verbose === false ? [] : ['--verbose'])],
      { cwd: options.cwd ?? work, env },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}`, stdout, stderr });
      },
    );
  });
}

const runbook = (...args: string[]) => runbookOn(runnerNode, args);
const json = (run: CliRun) => JSON.parse(run.stdout) as Record<string, string | number | boolean>;

/** Action inputs as the CLI's flags. */
const flags = (inputs: Record<string, string>) =>
  Object.entries(inputs).flatMap(([name, value]) => [`--${name}`, value]);

/** The team's directory, with its runbook.yml (written by the first test that needs it). */
const team = () => {
  const dir = join(work, 'team');
  mkdirSync(dir, { recursive: true });
  return dir;
};

let files = 0;
function secretFile(text: string): string {
  const file = join(work, `secret-${++files}`);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

describe('help and usage', () => {
  it("generates each command's help from its action.yml, lists every ops operation, and says the exit codes", async () => {
    const top = await runbook('--help');
    expect(top.code).toBe(0);
    for (const command of ['health', 'deploy', 'rollback', 'backup', 'migrate', 'diagnose', 'ops', 'drill'])
      expect(top.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    expect(top.stdout).toMatch(/3 refused for safety/);
    const deploy = await runbook('deploy', '--help');
    expect(deploy.code).toBe(0);
    const help = deploy.stdout.replace(/\s+/g, ' ');
    for (const [name, input] of Object.entries(ACTION_SPECS['action-deploy'].inputs)) {
      expect(help).toContain(`--${name} <value>`);
      if (input.default) expect(help).toContain(`default: ${JSON.stringify(input.default)}`);
    }
    expect(help).toContain('(required; or RUNBOOK_HOSTS)');
    const ops = (await runbook('ops', '--help')).stdout.replace(/\s+/g, ' ');
    for (const operation of OPERATIONS) expect(ops).toContain(`"${operation}"`);
  });

  it('drill --list names the scenarios (from a clone); --only with an unknown name exits 2', async () => {
    const listed = await runbookOn(runnerNode, ['drill', '--list'], { verbose: false });
    expect(listed.code).toBe(0);
    for (const name of [
      'health-checks',
      'deploy-and-rollback',
      'disk-full',
      'zero-downtime',
      'rotation-and-incident',
      'backup-restore-migrations',
      'migrations-on-production-data',
    ])
      expect(listed.stdout).toMatch(new RegExp(`^${name}  `, 'm'));
    const unknown = await runbookOn(runnerNode, ['drill', '--only', 'nope'], { verbose: false });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no scenario named nope; --list names them/);
  }, 60_000);

  it('exits 2 for bad usage and bad input, naming it, before anything runs', async () => {
    const unknown = await runbook('health', '--url', server.url, '--retries', '3');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--retries'/);
    const bad = await runbook('health', '--url', server.url, '--timeout', 'abc');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/error: Input 'timeout': "abc" is not a duration/);
    const missing = await runbook('health');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Input 'url': is required/);
    expect((await runbook('ops', 'explode')).code).toBe(2);
  });
});

describe('health, on Node 24 and on Node 20', () => {
  for (const [label, node] of [
    ['Node 24', runnerNode],
    ['Node 20', machineNode],
  ] as const)
    it(`${label}: the action's defaults and flags of the same names; --json prints its outputs; a failure exits 1`, async () => {
      const token = 'cli-s3cret-token-value';
      const tokenFile = secretFile(`Authorization: Bearer ${token}`);
      const r = await runbookOn(node, [
        'health',
        '--url',
        server.url,
        '--interval=50ms',
        '--expected-version',
        'abc1234',
        '--headers',
        `@${tokenFile}`,
        '--json',
      ]);
      expect(r.code).toBe(0);
      expect(json(r)).toMatchObject({ healthy: true, version: 'abc1234' });
      expect(r.stderr).toMatch(/healthy after \d attempt\(s\), \d+ ms, release abc1234/);
      expect(server.requests.at(-1)?.authorization).toBe(`Bearer ${token}`);
      const failed = await runbookOn(node, [
        'health',
        '--url',
        `${server.url}/x`,
        '--expected-version',
        'other',
        '--max-attempts',
        '1',
      ]);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(/Not healthy/);
      expect(findLeaks([token], { output: r.out + failed.out })).toEqual([]);
    });
});

describe('environments in runbook.yml, secrets from RUNBOOK_* or @file', () => {
  it('deploys and rolls back with hosts and paths from --env, the key from RUNBOOK_SSH_KEY; refuses a secret written in the file', async () => {
    const inputs = hostInputs([h]);
    const key = inputs['ssh-key'] as string;
    const dir = team();
    const plain = { ...inputs };
    delete plain['ssh-key'];
    writeFileSync(
      join(dir, 'runbook.yml'),
      stringify({
        environments: {
          production: { ...plain, 'install-command': '', deploy: { 'incident-report': 'true' } },
          leaky: { ...plain, 'ssh-key': key },
        },
      }),
    );
    const env = { RUNBOOK_SSH_KEY: key };
    const deployed = await runbookOn(
      runnerNode,
      [
        'deploy',
        '--env',
        'production',
        '--artifact',
        sampleArtifact(h, { sha: sha(1) }),
        '--sha',
        sha(1),
        '--json',
      ],
      { cwd: dir, env },
    );
    expect(deployed.stderr).toMatch(/switched/);
    expect(deployed.code).toBe(0);
    expect(String(json(deployed).release)).toMatch(/^\d{8}T\d{6}Z-0000001/);

    const refused = await runbookOn(runnerNode, ['rollback', '--env', 'production'], { cwd: dir, env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error: .*there is no previous good release to roll back to/);

    // The deploy's incident report, written by the CLI as the action writes it: ./incidents.
    const broken = await runbookOn(
      runnerNode,
      [
        'deploy',
        '--env',
        'production',
        '--artifact',
        sampleArtifact(h, { sha: sha(2), mode: 'crash-at-start' }),
        '--sha',
        sha(2),
        '--start-timeout',
        '3s',
        '--json',
      ],
      { cwd: dir, env },
    );
    expect(broken.code).toBe(1);
    expect(json(broken)['rolled-back']).toBe(true);
    const report = String(json(broken)['incident-report']);
    expect(report.startsWith(join(dir, 'incidents'))).toBe(true);
    expect(readFileSync(report, 'utf8')).toMatch(/rolled back/i);

    const leaky = await runbookOn(runnerNode, ['rollback', '--env', 'leaky'], { cwd: dir });
    expect(leaky.code).toBe(2);
    expect(leaky.stderr).toMatch(
      /Input 'ssh-key': is a secret and must not be written in the environment file: give it as RUNBOOK_SSH_KEY/,
    );
    const unknownEnv = await runbookOn(runnerNode, ['rollback', '--env', 'prod'], { cwd: dir, env });
    expect(unknownEnv.code).toBe(2);
    expect(unknownEnv.stderr).toMatch(
      /"prod" is not an environment of .*runbook\.yml \(it has production, leaky\)/,
    );

    // A key typed on the command line works, with a warning that it is now in the shell history.
    const typed = await runbookOn(
      runnerNode,
      ['rollback', '--env', 'production', '--ssh-key', key, '--dry-run', 'true'],
      {
        cwd: dir,
      },
    );
    expect(typed.stderr).toMatch(
      /warning: --ssh-key was given as plain text: it is now in your shell history/,
    );
    expect(
      findLeaks([key], { output: deployed.out + refused.out + broken.out + leaky.out + typed.out }),
    ).toEqual([]);
  }, 120_000);

  it('rotates a key read from a file on the host and audits it, printing fingerprints, never the values', async () => {
    const old = 'old-jwt-secret-value-0123456789abcdef';
    const value = 'new-jwt-secret-from-a-file-9876543210';
    const envFile = h.droplet.realPath(`${h.appDir}/shared/.env`);
    writeFileSync(envFile, `${readFileSync(envFile, 'utf8')}JWT_SECRET=${old}\n`);
    const rotation = {
      ...runningAppInputs([h]),
      'ssh-key': `@${secretFile(h.droplet.sshd?.privateKey ?? '')}`,
    };
    const rotated = await runbook(
      'rotate-secret',
      ...flags({ ...rotation, name: 'JWT_SECRET', value: `@${secretFile(value)}` }),
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
  }, 60_000);
});

describe('status', () => {
  it('shows what is live on the host from --env: release and sha, who deployed it, pm2, health, lease, the rotated secret', async () => {
    const env = { RUNBOOK_SSH_KEY: h.droplet.sshd?.privateKey ?? '' };
    const text = await runbookOn(runnerNode, ['status', '--env', 'production'], {
      cwd: team(),
      env,
      verbose: false,
    });
    expect(text.code).toBe(0);
    const json = await runbookOn(runnerNode, ['status', '--env', 'production', '--json'], {
      cwd: team(),
      env,
    });
    expect(json.code).toBe(0);
    const [host] = JSON.parse(String(JSON.parse(json.stdout).status)) as {
      host: string;
      current: string;
      sha: string;
      liveBy: string;
      pm2: { status: string; restarts: number };
      health: { healthy: boolean };
      lease?: unknown;
      secrets: { name: string; ageDays: number }[];
    }[];
    expect(host).toMatchObject({
      host: h.host,
      sha: sha(1),
      pm2: { status: 'online' },
      health: { healthy: true },
      secrets: [{ name: 'JWT_SECRET', ageDays: 0 }],
    });
    expect(host?.current).toMatch(/-0000001$/);
    expect(host?.lease).toBeUndefined();
    expect(text.stdout).toMatch(/bunty-backend: what is live/);
    expect(text.stdout).toMatch(
      new RegExp(
        `\\| ${h.host.replace(/[.]/g, '\\.')} \\| \\d{8}T\\d{6}Z-0000001 \\(0000001\\) \\| (deployed|rolled back to) \\d+ (s|min) ago by \\S+ \\| online \\|`,
      ),
    );
    expect(text.stdout).toMatch(/\| JWT_SECRET \| [0-9a-f]{8} \|/);
  });
});

describe('the database from a terminal', () => {
  it('backs up, verifies and restores; an unconfirmed restore is refused for safety (exit 3)', async () => {
    const { name, url } = await db.freshDatabase();
    const urlFile = secretFile(url);
    const dir = join(work, 'backups');
    const before = await tableContents(url);
    const backedUp = await runbook('backup', '--database-url', `@${urlFile}`, '--path', dir, '--json');
    expect(backedUp.code).toBe(0);
    const path = String(json(backedUp).path);
    expect(path).toMatch(new RegExp(`${name}-\\d{8}T\\d{6}Z\\.dump$`));
    const verified = await runbook('verify', '--backup', path, '--level', 'read', '--json');
    expect(json(verified).verified).toBe(true);
    await db.sql(name, 'TRUNCATE ledger.entries; DELETE FROM users');
    const common = ['--database-url', `@${urlFile}`, '--backup', path, '--path', dir];
    const refused = await runbook('restore', ...common);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/error: Input 'confirm'/);
    const restored = await runbook('restore', ...common, '--confirm', name, '--json');
    expect(json(restored).restored).toBe(true);
    expect(await tableContents(url)).toEqual(before);
    expect(
      findLeaks([db.postgres.password], { output: backedUp.out + verified.out + refused.out + restored.out }),
    ).toEqual([]);
  }, 60_000);

  it('migrates on Node 20 with the parser inside the one file; the backup gate refuses for safety (exit 3); maintain reports', async () => {
    const { name, url } = await db.freshDatabase();
    const urlFile = secretFile(url);
    const dir = join(work, 'migrations');
    mkdirSync(dir);
    writeFileSync(
      join(dir, '001_a.sql'),
      '-- ----------------------------------------\nCREATE TABLE a (id int);\n',
    );
    writeFileSync(join(dir, '001_a_rollback.sql'), 'DROP TABLE a;\n');
    writeFileSync(join(dir, '002_b.sql'), 'CREATE TABLE b (id int);\n-- a comment\nCOMMIT;\n');
    // The bundle alone, copied where nothing else is: no .wasm beside it, no node_modules.
    const alone = join(work, 'alone');
    mkdirSync(alone);
    writeFileSync(join(alone, 'runbook.mjs'), readFileSync(BUNDLE));
    const run = (...args: string[]) =>
      new Promise<CliRun>((resolve) => {
        execFile(
          machineNode,
          [join(alone, 'runbook.mjs'), ...args, '--verbose'],
          { cwd: alone, env: { PATH: process.env.PATH ?? '' } },
          (error, stdout, stderr) =>
            resolve({ code: error ? Number(error.code ?? 1) : 0, out: `${stdout}${stderr}`, stdout, stderr }),
        );
      });
    const common = [
      '--database-url',
      `@${urlFile}`,
      '--migrations-dir',
      dir,
      '--allow-migrations-dir-outside-workspace',
      'true',
    ];
    const gated = await run('migrate', ...common);
    expect(gated.code).toBe(3);
    expect(gated.stderr).toMatch(/no backup-manifest was given/);
    const refused = await run('migrate', ...common, '--require-backup', 'false');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/002_b\.sql line 3 \(COMMIT\) ends or starts a transaction/);
    rmSync(join(dir, '002_b.sql'));
    const applied = await run('migrate', ...common, '--require-backup', 'false', '--json');
    expect(applied.code).toBe(0);
    expect(JSON.parse(applied.stdout).applied).toBe('["001_a.sql"]');
    const rows = await db.sql<{ applied_by: string }>(name, 'SELECT applied_by FROM runbook_migrations');
    expect(rows[0]?.applied_by).toMatch(/^runbook CLI on /);
    const maintained = await run('maintain', '--database-url', `@${urlFile}`, '--tasks', 'connections,size');
    expect(maintained.code).toBe(0);
    expect(maintained.out).toMatch(/connections: \d+ of max_connections \d+ in use/);
    expect(readdirSync(alone)).toEqual(['runbook.mjs']);
    expect(
      findLeaks([db.postgres.password], { output: gated.out + refused.out + applied.out + maintained.out }),
    ).toEqual([]);
  }, 60_000);
});

describe('incident-report', () => {
  it('writes the post-mortem template with the findings read from a file and the recovery proven', async () => {
    const dir = join(work, 'incident');
    mkdirSync(dir);
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
        'health-deadline': '10s',
        'incident-dir': dir,
      }),
    );
    expect(r.code).toBe(0);
    const md = readFileSync(join(dir, '2026-12-01-api-slow-at-3am.md'), 'utf8');
    expect(md).toContain('| Severity | P1 |');
    expect(md).toContain('- P1 db locks: an UPDATE waits — next: kill it');
    expect(md).toMatch(/\| Recovery \| recovered in \d+ s/);
    expect(existsSync(join(work, 'incidents'))).toBe(false);
  });
});
