/**
 * A code rollback past a migration (releases/schema-rollback.ts), through the committed bundles of
 * action-db-migrate, action-deploy and action-rollback against a real sshd, pm2 and PostgreSQL: the
 * release log keeps each release's migrations; a rollback past one is refused, naming it; with
 * rollback-migrations it rolls them back newest first, gated on the backup, then switches; an
 * irreversible migration is refused whatever the input says.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runActionBundle, type ActionRun } from '../../sandbox/index.js';
import {
  hostInputs,
  sampleArtifact,
  sha,
  deployHostPool,
  type DeployHost,
} from '../../sandbox/deploy-host.js';
import { startDatabaseHost, type DatabaseHost } from '../../sandbox/database-host.js';

const pool = deployHostPool();
let db: DatabaseHost;
let work: string;
let h: DeployHost;
let database: { name: string; url: string };
beforeAll(async () => {
  [db, h] = await Promise.all([startDatabaseHost(), pool.host()]);
  database = await db.freshDatabase();
  work = mkdtempSync(join(tmpdir(), 'runbook-schema-rollback-'));
  mkdirSync(join(work, 'migrations'));
}, 90_000);
afterAll(async () => {
  await pool.stopAll();
  await db?.droplet.stop();
  rmSync(work, { recursive: true, force: true });
});

const secrets = () => [h.droplet.sshd?.privateKey ?? '', db.postgres.password];
const env = () => ({ GITHUB_WORKSPACE: work });
const dir = () => join(work, 'migrations');

function migrate(): Promise<ActionRun> {
  return runActionBundle(
    'action-db-migrate',
    { 'database-url': database.url, 'require-backup': 'false', 'migrations-dir': dir(), lint: 'off' },
    { secrets: secrets(), env: env() },
  );
}

function deploy(n: number, migrations: string): Promise<ActionRun> {
  return runActionBundle(
    'action-deploy',
    {
      ...hostInputs([h]),
      'install-command': '',
      artifact: sampleArtifact(h, { sha: sha(n) }),
      sha: sha(n),
      migrations,
    },
    { secrets: secrets() },
  );
}

function rollback(extra: Record<string, string> = {}): Promise<ActionRun> {
  return runActionBundle(
    'action-rollback',
    { ...hostInputs([h]), 'migrations-dir': dir(), ...extra },
    { secrets: secrets(), env: env() },
  );
}

const current = () => readlinkSync(h.droplet.realPath(`${h.appDir}/current`)).replace(/^releases\//, '');
const tableExists = async (table: string) =>
  (await db.sql<{ ok: boolean }>(database.name, `SELECT to_regclass('${table}') IS NOT NULL AS ok`))[0]?.ok;

describe('a rollback past a migration', () => {
  let v1: string;
  let v2: string;

  it('the release log keeps the migrations applied with each release', async () => {
    const first = await deploy(1, '');
    expect(first.errors).toEqual([]);
    v1 = first.outputs.release as string;
    writeFileSync(join(dir(), '001_plans.sql'), 'CREATE TABLE plans (id bigint PRIMARY KEY, name text);\n');
    writeFileSync(join(dir(), '001_plans_rollback.sql'), 'DROP TABLE plans;\n');
    writeFileSync(join(dir(), '002_tiers.sql'), 'CREATE TABLE tiers (id bigint PRIMARY KEY);\n');
    writeFileSync(join(dir(), '002_tiers_rollback.sql'), 'DROP TABLE tiers;\n');
    const migrated = await migrate();
    expect(migrated.errors).toEqual([]);
    const second = await deploy(2, migrated.outputs.applied as string);
    expect(second.errors).toEqual([]);
    v2 = second.outputs.release as string;
    const log = readFileSync(h.droplet.realPath(`${h.appDir}/.runbook/releases.log`), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { release: string; outcome: string; migrations?: string[] });
    expect(log.find((e) => e.release === v2 && e.outcome === 'deployed')?.migrations).toEqual([
      '001_plans.sql',
      '002_tiers.sql',
    ]);
  });

  it('is refused, naming the migrations, and nothing changes', async () => {
    const run = await rollback();
    expect(run.exitCode).toBe(1);
    expect(run.errors.join('\n')).toMatch(
      new RegExp(
        `Rollback to ${v1} refused: it is older than migrations 002_tiers\\.sql \\(applied with ${v2}\\), 001_plans\\.sql \\(applied with ${v2}\\).*Nothing was changed`,
      ),
    );
    expect(run.errors.join('\n')).toMatch(/rollback-migrations: true/);
    expect(current()).toBe(v2);
    expect(await tableExists('plans')).toBe(true);
  });

  it('with rollback-migrations: the backup gate first, then the migrations newest first, then the code', async () => {
    const gated = await rollback({ 'rollback-migrations': 'true', 'database-url': database.url });
    expect(gated.exitCode).toBe(1);
    expect(gated.errors.join('\n')).toMatch(/backup/i);
    expect(current()).toBe(v2);
    expect(await tableExists('tiers')).toBe(true);

    const run = await rollback({
      'rollback-migrations': 'true',
      'database-url': database.url,
      'require-backup': 'false',
    });
    expect(run.errors).toEqual([]);
    expect(run.exitCode).toBe(0);
    expect(JSON.parse(run.outputs['migrations-rolled-back'] ?? '[]')).toEqual([
      '002_tiers_rollback.sql',
      '001_plans_rollback.sql',
    ]);
    expect(run.summary).toMatch(
      /Migrations rolled back first[\s\S]*002_tiers_rollback\.sql[\s\S]*001_plans_rollback\.sql/,
    );
    expect(current()).toBe(v1);
    expect(await tableExists('plans')).toBe(false);
    expect(await tableExists('tiers')).toBe(false);
  });

  it('an irreversible migration is refused explicitly, whatever rollback-migrations says', async () => {
    const migrated = await migrate(); // 001 and 002 again
    writeFileSync(
      join(dir(), '003_split_names.sql'),
      '-- runbook:irreversible (the old column is dropped)\nCREATE TABLE names (id bigint PRIMARY KEY);\n',
    );
    writeFileSync(join(dir(), '003_split_names_rollback.sql'), 'DROP TABLE names;\n');
    const again = await migrate();
    const applied = [
      ...(JSON.parse(migrated.outputs.applied ?? '[]') as string[]),
      ...(JSON.parse(again.outputs.applied ?? '[]') as string[]),
    ];
    const v3 = (await deploy(3, JSON.stringify(applied))).outputs.release as string;
    expect(current()).toBe(v3);
    const run = await rollback({
      release: v1,
      'rollback-migrations': 'true',
      'database-url': database.url,
      'require-backup': 'false',
    });
    expect(run.exitCode).toBe(1);
    expect(run.errors.join('\n')).toMatch(
      /it is older than 003_split_names\.sql, marked -- runbook:irreversible.*Nothing was changed/,
    );
    expect(current()).toBe(v3);
    expect(await tableExists('names')).toBe(true);
    expect(await tableExists('plans')).toBe(true);
  });
});
