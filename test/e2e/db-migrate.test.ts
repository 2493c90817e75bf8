/**
 * action-db-migrate through its committed bundle against a real PostgreSQL: order, idempotence,
 * all-or-nothing, two concurrent runs, checksums, out-of-order, rollback, no-transaction files,
 * lock-timeout, baseline, the backup gate, long-query termination, hostile names.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runActionBundle, type ActionRun } from '../../sandbox/index.js';
import { startDatabaseHost, type DatabaseHost } from '../../sandbox/database-host.js';

let db: DatabaseHost;
let work: string;
beforeAll(async () => {
  db = await startDatabaseHost();
  work = mkdtempSync(join(tmpdir(), 'runbook-migrate-test-'));
}, 60_000);
afterAll(async () => {
  await db?.droplet.stop();
  rmSync(work, { recursive: true, force: true });
});

let dirs = 0;
function folder(files: Record<string, string>): string {
  const dir = join(work, `m${++dirs}`);
  mkdirSync(dir, { recursive: true });
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

const INIT = {
  '001_accounts.sql':
    "CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL);\nINSERT INTO accounts (email) VALUES ('a@example.com');\n",
  '001_accounts_rollback.sql': 'DROP TABLE accounts;\n',
  '002_plans.sql': 'CREATE TABLE plans (id int PRIMARY KEY, name text);\n',
  '002_plans_rollback.sql': 'DROP TABLE plans;\n',
};

function migrateAction(url: string, inputs: Record<string, string>, timeoutMs = 60_000): Promise<ActionRun> {
  return runActionBundle(
    'action-db-migrate',
    { 'database-url': url, 'require-backup': 'false', ...inputs },
    { secrets: [db.postgres.password], timeoutMs, env: { GITHUB_WORKSPACE: work } },
  );
}
const failedWith = (run: ActionRun, text: RegExp) => {
  expect(run.exitCode).toBe(1);
  expect(run.errors.join('\n')).toMatch(text);
};
const ok = (run: ActionRun) => {
  expect(run.errors).toEqual([]);
  expect(run.exitCode).toBe(0);
};
const tracked = async (name: string) =>
  (
    await db.sql<{ version: string }>(
      name,
      'SELECT version::text AS version FROM runbook_migrations ORDER BY version',
    )
  ).map((r) => r.version);
const warningsOf = (run: ActionRun) =>
  run.annotations.filter((a) => a.level === 'warning').map((a) => a.message);
const exists = async (name: string, table: string) =>
  (await db.sql<{ ok: boolean }>(name, `SELECT to_regclass('${table}') IS NOT NULL AS ok`))[0]?.ok;

describe("migrate: SQL read by PostgreSQL's parser", () => {
  it('refuses a transaction statement hidden behind comments, names file and line, and changes nothing', async () => {
    const { name, url } = await db.freshDatabase();
    await db.sql(name, 'CREATE TABLE people (id int)');
    const dir = folder({
      '001_sneaky.sql':
        '-- ' +
        '-'.repeat(40) +
        '\nCREATE TABLE a (id int);\n/* done; */\n-- now\nCOMMIT;\nDROP TABLE people;\nSELECT 1/0;\n',
      '002_later.sql': 'CREATE TABLE b (id int);\n',
    });
    const run = await migrateAction(url, { 'migrations-dir': dir });
    failedWith(run, /001_sneaky\.sql line 5 \(COMMIT\) ends or starts a transaction.*Nothing was applied/);
    expect(await exists(name, 'people')).toBe(true);
    expect(await exists(name, 'a')).toBe(false);
    expect(await exists(name, 'runbook_migrations')).toBe(false);
    const abort = await migrateAction(url, {
      'migrations-dir': folder({ '001_x.sql': 'CREATE TABLE a (id int);\nABORT;\n' }),
    });
    failedWith(abort, /001_x\.sql line 2 \(ROLLBACK\)/);
    // BEGIN ATOMIC inside a comment is a comment: the file runs in one transaction and fails whole.
    const atomic = await migrateAction(url, {
      'migrations-dir': folder({ '001_y.sql': '-- BEGIN ATOMIC\nCREATE TABLE c (id int);\nSELECT 1/0;\n' }),
    });
    failedWith(
      atomic,
      /001_y\.sql line 3: division by zero.*Nothing of it was applied: its transaction rolled back/,
    );
    expect(await exists(name, 'c')).toBe(false);
  });

  it('applies a ruler-commented file of 20k statements and a BEGIN ATOMIC function; bounds file size; keeps to the workspace', async () => {
    const { name, url } = await db.freshDatabase();
    const lines = ['-- ' + '-'.repeat(40), 'CREATE TABLE t (id int, v text);'];
    for (let i = 0; i < 20_000; i++) lines.push(`INSERT INTO t VALUES (${i}, 'v;${i}');`);
    lines.push('CREATE FUNCTION two() RETURNS int LANGUAGE sql\nBEGIN ATOMIC SELECT 1; SELECT 2; END;');
    const dir = folder({ '001_big.sql': lines.join('\n') + '\n' });
    failedWith(
      await migrateAction(url, { 'migrations-dir': dir, 'max-file-size': '64KB' }),
      /001_big\.sql is .* over max-file-size \(64 KiB\)/,
    );
    ok(await migrateAction(url, { 'migrations-dir': dir }, 120_000));
    expect((await db.sql<{ n: string }>(name, 'SELECT count(*)::text AS n FROM t'))[0]?.n).toBe('20000');
    expect((await db.sql<{ v: number }>(name, 'SELECT two() AS v'))[0]?.v).toBe(2);
    const outside = mkdtempSync(join(tmpdir(), 'runbook-outside-'));
    writeFileSync(join(outside, '002_o.sql'), 'CREATE TABLE o (id int);\n');
    const link = join(work, `linked${++dirs}`);
    symlinkSync(outside, link);
    failedWith(
      await migrateAction(url, { 'migrations-dir': link }),
      /migrations-dir.*outside the workspace.*allow-migrations-dir-outside-workspace/,
    );
    expect(await exists(name, 'o')).toBe(false);
    ok(
      await migrateAction(url, { 'migrations-dir': link, 'allow-migrations-dir-outside-workspace': 'true' }),
    );
    rmSync(outside, { recursive: true, force: true });
  }, 240_000);
});

describe('migrate', () => {
  it('applies in order, records each with checksum and author, and a re-run applies nothing', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder(INIT);
    const first = await migrateAction(url, { 'migrations-dir': dir });
    ok(first);
    expect(JSON.parse(first.outputs.applied ?? '')).toEqual(['001_accounts.sql', '002_plans.sql']);
    expect(first.outputs['current-version']).toBe('002');
    const rows = await db.sql<{ sha256: string; applied_by: string }>(
      name,
      'SELECT sha256, applied_by FROM runbook_migrations ORDER BY version',
    );
    expect(rows[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.applied_by).toMatch(/a run outside GitHub Actions|run \d+/);
    const again = await migrateAction(url, { 'migrations-dir': dir });
    ok(again);
    expect(again.outputs.applied).toBe('[]');
    expect(again.stdout).toMatch(/nothing to apply/);
    const status = await migrateAction(url, { 'migrations-dir': dir, mode: 'status' });
    ok(status);
    expect(status.summary).toMatch(/001_accounts\.sql \| applied/);
  });

  it('a migration failing halfway leaves nothing of it; the ones before stay', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder({
      ...INIT,
      '003_broken.sql':
        'CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nSELECT * FROM no_such_table;\n',
    });
    const run = await migrateAction(url, { 'migrations-dir': dir });
    failedWith(
      run,
      /Migration 003_broken\.sql line 3: relation "no_such_table" does not exist.*Nothing of it was applied/s,
    );
    expect(await exists(name, 'half')).toBe(false);
    expect(await tracked(name)).toEqual(['1', '2']);
    expect(JSON.parse(run.outputs.applied ?? '')).toEqual(['001_accounts.sql', '002_plans.sql']);
  });

  it('two concurrent runs apply each migration exactly once', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder({
      '001_log.sql': 'CREATE TABLE applied_log (n int);\nSELECT pg_sleep(0.5);\n',
      '002_a.sql': 'INSERT INTO applied_log VALUES (2);\n',
      '003_b.sql': 'INSERT INTO applied_log VALUES (3);\n',
    });
    const [a, b] = await Promise.all([
      migrateAction(url, { 'migrations-dir': dir }),
      migrateAction(url, { 'migrations-dir': dir }),
    ]);
    ok(a);
    ok(b);
    const all = [...JSON.parse(a.outputs.applied ?? ''), ...JSON.parse(b.outputs.applied ?? '')].sort();
    expect(all).toEqual(['001_log.sql', '002_a.sql', '003_b.sql']);
    expect(
      (await db.sql<{ n: number }>(name, 'SELECT n FROM applied_log ORDER BY n')).map((r) => r.n),
    ).toEqual([2, 3]);
    expect(a.stdout + b.stdout).toMatch(/another migration run holds the lock/);
  });

  it('refuses an applied migration whose file changed, showing both checksums', async () => {
    const { url } = await db.freshDatabase();
    const dir = folder(INIT);
    ok(await migrateAction(url, { 'migrations-dir': dir }));
    writeFileSync(
      join(dir, '002_plans.sql'),
      'CREATE TABLE plans (id int PRIMARY KEY, name text, price int);\n',
    );
    writeFileSync(join(dir, '003_more.sql'), 'CREATE TABLE more (id int);\n');
    const run = await migrateAction(url, { 'migrations-dir': dir });
    failedWith(
      run,
      /002_plans\.sql \(applied sha256 [0-9a-f]{12}…, file now [0-9a-f]{12}…\)\. Nothing was applied/,
    );
    expect(run.outputs.applied).toBe('[]');
  });

  it('refuses out-of-order, then applies it when allowed', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder({
      '001_a.sql': 'CREATE TABLE a (id int);\n',
      '003_c.sql': 'CREATE TABLE c (id int);\n',
    });
    ok(await migrateAction(url, { 'migrations-dir': dir }));
    writeFileSync(join(dir, '002_b.sql'), 'CREATE TABLE b (id int);\n');
    failedWith(
      await migrateAction(url, { 'migrations-dir': dir }),
      /002_b\.sql numbered below the applied 003/,
    );
    expect(await exists(name, 'b')).toBe(false);
    ok(await migrateAction(url, { 'migrations-dir': dir, 'allow-out-of-order': 'true' }));
    expect(await tracked(name)).toEqual(['1', '2', '3']);
  });

  it('runs a -- runbook:no-transaction file statement by statement (CREATE INDEX CONCURRENTLY), a BOM before the marker too', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder({
      ...INIT,
      '003_index.sql':
        '\uFEFF-- runbook:no-transaction\nCREATE INDEX CONCURRENTLY accounts_email ON accounts (email);\nCREATE INDEX CONCURRENTLY plans_name ON plans (name);\n',
    });
    const run = await migrateAction(url, { 'migrations-dir': dir });
    ok(run);
    expect(run.stdout).toMatch(/applied 003_index\.sql .*outside a transaction/);
    expect(run.summary).toMatch(/applied now \(no transaction\)/);
    expect(await exists(name, 'accounts_email')).toBe(true);
  });

  it('lock-timeout fires when another session holds a conflicting lock, and nothing is applied', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder(INIT);
    ok(await migrateAction(url, { 'migrations-dir': dir }));
    writeFileSync(
      join(dir, '003_alter.sql'),
      'CREATE TABLE side (id int);\nALTER TABLE accounts ADD COLUMN plan int;\n',
    );
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM accounts'); // ACCESS SHARE, held until the transaction ends
      const run = await migrateAction(url, {
        'migrations-dir': dir,
        'lock-timeout': '500ms',
        'lock-retries': '0',
      });
      failedWith(
        run,
        /003_alter\.sql line 2: canceling statement due to lock timeout.*lock-timeout \(500 ms\).*Nothing of it was applied/s,
      );
      expect(await exists(name, 'side')).toBe(false);
      expect(await tracked(name)).toEqual(['1', '2']);
    } finally {
      await holder.end();
    }
  });

  it('lock-retries: a transactional migration reruns whole after a lock timeout; one outside a transaction resumes at the failed statement, its INVALID index dropped first', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder(INIT);
    ok(await migrateAction(url, { 'migrations-dir': dir }));
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    const holdFor = async (ms: number, sql: string) => {
      await holder.query('BEGIN');
      await holder.query(sql);
      setTimeout(() => void holder.query('COMMIT').catch(() => undefined), ms);
    };
    try {
      writeFileSync(
        join(dir, '003_alter.sql'),
        'CREATE TABLE side (id int);\nALTER TABLE accounts ADD COLUMN plan int;\n',
      );
      await holdFor(1200, 'SELECT count(*) FROM accounts'); // ACCESS SHARE until COMMIT
      const whole = await migrateAction(url, { 'migrations-dir': dir, 'lock-timeout': '300ms', lint: 'off' });
      ok(whole);
      expect(warningsOf(whole).join('\n')).toMatch(
        /003_alter\.sql: lock-timeout \(300 ms\) .*attempt 2 of 4 in \d+ ms, rerunning it whole/,
      );
      expect(await tracked(name)).toEqual(['1', '2', '3']);

      // CREATE INDEX CONCURRENTLY enters its index, then waits for the writers on the table: a writer
      // holding on past lock-timeout fails it there, leaving the index INVALID.
      writeFileSync(
        join(dir, '004_index.sql'),
        '-- runbook:no-transaction\nCREATE TABLE side_log (id int);\nCREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);\n',
      );
      await holdFor(1200, "INSERT INTO accounts (email) VALUES ('writer@example.com')");
      const resumed = await migrateAction(url, {
        'migrations-dir': dir,
        'lock-timeout': '300ms',
        lint: 'off',
      });
      ok(resumed);
      const said = warningsOf(resumed).join('\n');
      expect(said).toMatch(/004_index\.sql: lock-timeout .*resuming at statement 2 of 2/);
      expect(said).toMatch(
        /004_index\.sql: index "accounts_email_idx" is INVALID .*dropping it before building it again/,
      );
      expect(await tracked(name)).toEqual(['1', '2', '3', '4']);
      const index = await db.sql<{ valid: boolean }>(
        name,
        "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'accounts_email_idx'::regclass",
      );
      expect(index).toEqual([{ valid: true }]);
    } finally {
      await holder.end();
    }
  });

  it('adopts a hand-migrated database with baseline, once', async () => {
    const { name, url } = await db.freshDatabase();
    await db.sql(
      name,
      'CREATE TABLE accounts (id serial PRIMARY KEY, email text NOT NULL); CREATE TABLE plans (id int PRIMARY KEY, name text); ALTER TABLE accounts OWNER TO bunty; ALTER TABLE plans OWNER TO bunty',
    );
    const dir = folder({ ...INIT, '003_more.sql': 'CREATE TABLE more (id int);\n' });
    const run = await migrateAction(url, { 'migrations-dir': dir, baseline: '002' });
    ok(run);
    expect(JSON.parse(run.outputs.applied ?? '')).toEqual(['003_more.sql']);
    expect(await tracked(name)).toEqual(['1', '2', '3']);
    failedWith(
      await migrateAction(url, { 'migrations-dir': dir, baseline: '002' }),
      /Input 'baseline': can only adopt a database whose tracking table is empty/,
    );
  });
});

describe('lint (squawk, installed at run time)', () => {
  it('stops a lock-heavy migration before anything is applied, naming file, line, rule and advice; honours squawk-ignore; style advice never stops', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder(INIT);
    ok(await migrateAction(url, { 'migrations-dir': dir }));
    writeFileSync(join(dir, '003_side.sql'), 'CREATE TABLE side (id int);\n');
    writeFileSync(
      join(dir, '004_index.sql'),
      '-- an index built the slow way on a table with rows\n\nCREATE INDEX accounts_email ON accounts (email);\n',
    );
    const refused = await migrateAction(url, { 'migrations-dir': dir });
    failedWith(
      refused,
      /Refused by the migration lint \(squawk 2\.66\.0\): 004_index\.sql line 3 require-concurrent-index-creation: .*Nothing was applied/,
    );
    expect(await tracked(name)).toEqual(['1', '2']);
    expect(await exists(name, 'side')).toBe(false);
    const lint = JSON.parse(refused.outputs.lint ?? '{}') as {
      ran: boolean;
      violations: { file: string; line: number; rule: string; help?: string; stops: boolean }[];
    };
    expect(lint.ran).toBe(true);
    const stops = lint.violations.filter((v) => v.stops);
    expect(stops.map((v) => `${v.file}:${v.line}:${v.rule}`)).toEqual([
      '004_index.sql:3:require-concurrent-index-creation',
    ]);
    expect(stops[0]?.help).toMatch(/concurrently/i);
    // `int` is style advice: listed, not stopping; the runner's own timeouts are not asked of the file.
    expect(lint.violations.some((v) => v.rule === 'prefer-bigint-over-int' && !v.stops)).toBe(true);
    expect(lint.violations.some((v) => /timeout/.test(v.rule))).toBe(false);
    expect(refused.summary).toMatch(/\| 004_index\.sql \| 3 \| require-concurrent-index-creation \|/);
    // Understood and accepted: squawk's own ignore comment lets it through; warn only lists.
    writeFileSync(
      join(dir, '004_index.sql'),
      '-- squawk-ignore require-concurrent-index-creation\nCREATE INDEX accounts_email ON accounts (email);\n',
    );
    ok(await migrateAction(url, { 'migrations-dir': dir }));
    expect(await tracked(name)).toEqual(['1', '2', '3', '4']);
    writeFileSync(join(dir, '005_more.sql'), 'CREATE INDEX plans_name ON plans (name);\n');
    const warned = await migrateAction(url, { 'migrations-dir': dir, lint: 'warn' });
    ok(warned);
    expect(warningsOf(warned).join('\n')).toMatch(/lint 005_more\.sql:1 require-concurrent-index-creation/);
  });

  it('a lint that cannot run stops the run under error, says so under warn', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder(INIT);
    const broken = { RUNBOOK_SQUAWK: join(work, 'no-such-squawk') };
    const run = await runActionBundle(
      'action-db-migrate',
      { 'database-url': url, 'require-backup': 'false', 'migrations-dir': dir },
      { secrets: [db.postgres.password], env: { GITHUB_WORKSPACE: work, ...broken } },
    );
    failedWith(
      run,
      /The migration lint could not run, and lint is error: RUNBOOK_SQUAWK names .*Nothing was applied/,
    );
    expect(await exists(name, 'accounts')).toBe(false);
    const warned = await runActionBundle(
      'action-db-migrate',
      { 'database-url': url, 'require-backup': 'false', 'migrations-dir': dir, lint: 'warn' },
      { secrets: [db.postgres.password], env: { GITHUB_WORKSPACE: work, ...broken } },
    );
    ok(warned);
    expect(warningsOf(warned).join('\n')).toMatch(/migration lint did not run/);
  });
});

describe('rehearse on a copy of production', () => {
  it('restores the gating backup on the scratch server, reports duration, rows and locks per file, stops a long AccessExclusiveLock before production, and drops the copy', async () => {
    const { name, url } = await db.freshDatabase();
    await db.sql(
      name,
      'CREATE TABLE lines AS SELECT g::bigint AS id, md5(g::text) AS note FROM generate_series(1, 20000) g; ALTER TABLE lines OWNER TO bunty; ANALYZE lines',
    );
    const backup = await runActionBundle(
      'action-db-backup',
      { 'database-url': url, path: join(work, `b${++dirs}`) },
      { secrets: [db.postgres.password] },
    );
    ok(backup);
    const dir = folder({
      ...INIT,
      '003_backfill.sql': 'UPDATE lines SET note = upper(note) WHERE id <= 5000;\n',
      '004_rewrite.sql':
        '-- squawk-ignore adding-field-with-default\nALTER TABLE lines ADD COLUMN token text DEFAULT md5(random()::text);\nSELECT pg_sleep(1.5);\n',
    });
    const inputs = {
      'migrations-dir': dir,
      'backup-manifest': backup.outputs.manifest as string,
      'scratch-database-url': db.superuser(),
      'rehearse-max-lock': 'AccessExclusiveLock 1s 10000',
      lint: 'off',
    };
    const before = await db.sql<{ n: string }>('postgres', 'SELECT count(*)::text AS n FROM pg_database');
    const run = await migrateAction(url, { ...inputs, 'require-backup': 'true', rehearse: 'true' });
    failedWith(
      run,
      /rehearsal on a copy of production .* stopped it: 004_rewrite\.sql held AccessExclusiveLock on public\.lines for 1\.\d+s \(a table of ~20000 rows\), over rehearse-max-lock \(AccessExclusiveLock or stronger held over 1s on a table of more than 10000 rows\)\. Nothing was applied to production/,
    );
    // Production untouched, the copy gone.
    expect(await tracked(name).catch(() => [])).toEqual([]);
    expect(await db.sql<{ n: string }>('postgres', 'SELECT count(*)::text AS n FROM pg_database')).toEqual(
      before,
    );
    const report = JSON.parse(run.outputs.rehearsal ?? '{}') as {
      restoreMs: number;
      files: {
        file: string;
        durationMs: number;
        rowsTouched: number;
        locks: { table: string; mode: string; heldMs: number; rows: number }[];
      }[];
    };
    expect(report.files.map((f) => f.file)).toEqual([
      '001_accounts.sql',
      '002_plans.sql',
      '003_backfill.sql',
      '004_rewrite.sql',
    ]);
    const backfill = report.files[2];
    expect(backfill?.rowsTouched).toBe(5000);
    expect(backfill?.locks[0]).toMatchObject({
      table: 'public.lines',
      mode: 'RowExclusiveLock',
      rows: 20000,
    });
    const rewrite = report.files[3];
    expect(rewrite?.durationMs).toBeGreaterThanOrEqual(1500);
    expect(rewrite?.locks[0]).toMatchObject({ table: 'public.lines', mode: 'AccessExclusiveLock' });
    expect(rewrite?.locks[0]?.heldMs).toBeGreaterThan(1400);
    expect(run.summary).toMatch(
      /\| 004_rewrite\.sql \| \d+ ms \| \d+ \| AccessExclusiveLock on public\.lines: \d+ ms \(~20000 rows\)/,
    );
    // A mode: rehearse that passes changes nothing either; within a looser gate, a migrate with rehearse applies.
    const looser = { ...inputs, 'rehearse-max-lock': 'AccessExclusiveLock 5s' };
    const rehearsed = await migrateAction(url, { ...looser, mode: 'rehearse' });
    ok(rehearsed);
    expect(await tracked(name).catch(() => [])).toEqual([]);
    const applied = await migrateAction(url, { ...looser, 'require-backup': 'true', rehearse: 'true' });
    ok(applied);
    expect(await tracked(name)).toEqual(['1', '2', '3', '4']);
  });
});

describe('rehearse on a scratch server of its own', () => {
  let scratch: DatabaseHost;
  beforeAll(async () => {
    scratch = await startDatabaseHost();
  }, 60_000);
  afterAll(async () => {
    await scratch?.droplet.stop();
  });

  it("production's roles are made there (NOLOGIN), so a migration granting to one rehearses as it will run", async () => {
    const { url } = await db.freshDatabase();
    const role = `report_reader_${process.pid}`;
    await db.sql('postgres', `CREATE ROLE ${role} NOLOGIN`);
    const backup = await runActionBundle(
      'action-db-backup',
      { 'database-url': url, path: join(work, `b${++dirs}`) },
      { secrets: [db.postgres.password] },
    );
    ok(backup);
    const dir = folder({ ...INIT, '003_grant.sql': `GRANT SELECT ON accounts TO ${role};\n` });
    const run = await runActionBundle(
      'action-db-migrate',
      {
        'database-url': url,
        mode: 'rehearse',
        'migrations-dir': dir,
        'rehearse-backup': backup.outputs.manifest as string,
        'scratch-database-url': scratch.superuser(),
        lint: 'off',
      },
      { secrets: [db.postgres.password, scratch.postgres.password], env: { GITHUB_WORKSPACE: work } },
    );
    ok(run);
    expect(run.stdout).toMatch(
      new RegExp(`role\\(s\\) of production made on the scratch server, NOLOGIN.*${role}`),
    );
    const files = (JSON.parse(run.outputs.rehearsal ?? '{}') as { files: { file: string; error?: string }[] })
      .files;
    expect(files.map((f) => [f.file, f.error])).toEqual([
      ['001_accounts.sql', undefined],
      ['002_plans.sql', undefined],
      ['003_grant.sql', undefined],
    ]);
  });
});

describe('dry run', () => {
  it('lists what would run, in order, with checksums, and changes nothing (not even the tracking table)', async () => {
    const { name, url } = await db.freshDatabase();
    const run = await migrateAction(url, {
      'migrations-dir': folder(INIT),
      'dry-run': 'true',
      'require-backup': 'true',
    });
    ok(run);
    expect(run.stdout).toMatch(
      /\[dry-run\] would apply 001_accounts\.sql \(sha256 [0-9a-f]{12}…\)\n[^\n]*\[dry-run\] would apply 002_plans\.sql/,
    );
    expect(JSON.parse(run.outputs.report ?? '{}').wouldRun.map((w: { file: string }) => w.file)).toEqual([
      '001_accounts.sql',
      '002_plans.sql',
    ]);
    expect(await exists(name, 'runbook_migrations')).toBe(false);
    expect(await exists(name, 'accounts')).toBe(false);
  });
});

describe('tracking table', () => {
  it("lives in its own schema when asked; one the role cannot read fails with PostgreSQL's words, not as a bug", async () => {
    const { name, url } = await db.freshDatabase();
    ok(await migrateAction(url, { 'migrations-dir': folder(INIT), 'tracking-table': 'ops.schema_log' }));
    expect((await db.sql<{ n: string }>(name, 'SELECT count(*) AS n FROM ops.schema_log'))[0]?.n).toBe('2');
    await db.sql(
      name,
      'CREATE TABLE locked_log (version numeric PRIMARY KEY, name text, sha256 text, applied_at timestamptz, applied_by text, duration_ms int)',
    ); // owned by the superuser
    const run = await migrateAction(url, { 'migrations-dir': folder(INIT), 'tracking-table': 'locked_log' });
    failedWith(
      run,
      /The migrate run failed: PostgreSQL said permission denied for table locked_log \[42501\]/,
    );
    expect(run.errors.join('\n')).not.toMatch(/Unexpected error/);
  });
});

describe('rollback', () => {
  it('rolls back the last two in reverse, and refuses touching nothing when a rollback file is missing', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder({ ...INIT, '003_more.sql': 'CREATE TABLE more (id int);\n' });
    ok(await migrateAction(url, { 'migrations-dir': dir }));
    failedWith(
      await migrateAction(url, { 'migrations-dir': dir, mode: 'rollback', steps: '2' }),
      /003_more\.sql has no _rollback\.sql\. Nothing was rolled back/,
    );
    expect(await tracked(name)).toEqual(['1', '2', '3']);
    writeFileSync(join(dir, '003_more_rollback.sql'), 'DROP TABLE more;\n');
    // Gated like migrate: a rollback file typically drops a table.
    failedWith(
      await migrateAction(url, {
        'migrations-dir': dir,
        mode: 'rollback',
        steps: '2',
        'require-backup': 'true',
      }),
      /Refused to roll back migrations of .*: no backup-manifest was given\. Nothing was rolled back/,
    );
    expect(await tracked(name)).toEqual(['1', '2', '3']);
    const run = await migrateAction(url, { 'migrations-dir': dir, mode: 'rollback', steps: '2' });
    ok(run);
    expect(run.outputs['current-version']).toBe('001');
    // The outputs and the summary show the state after it.
    expect(JSON.parse(run.outputs.pending ?? '[]')).toEqual(['002_plans.sql', '003_more.sql']);
    expect(run.summary).toMatch(/\| 003_more\.sql \| pending/);
    expect(run.summary).not.toMatch(/\| 003_more\.sql \| applied/);
    expect(await tracked(name)).toEqual(['1']);
    expect(await exists(name, 'more')).toBe(false);
    expect(await exists(name, 'plans')).toBe(false);
  });
});

describe('the backup gate', () => {
  it('refuses without a manifest, with a stale or failed one, and with one of another database; passes with a fresh verified one', async () => {
    const { name, url } = await db.freshDatabase();
    const dir = folder(INIT);
    const gated = (manifest: string) =>
      runActionBundle(
        'action-db-migrate',
        { 'database-url': url, 'migrations-dir': dir, 'backup-manifest': manifest },
        { secrets: [db.postgres.password] },
      );
    failedWith(await gated(''), /Refused to migrate .*: no backup-manifest was given/);
    const backup = await runActionBundle(
      'action-db-backup',
      { 'database-url': url, path: join(work, `b${++dirs}`) },
      { secrets: [db.postgres.password] },
    );
    ok(backup);
    const manifestFile = backup.outputs.manifest as string;
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    const variant = (change: Record<string, unknown>) => {
      const file = join(work, `variant${++dirs}.dump.manifest.json`);
      writeFileSync(file, JSON.stringify({ ...manifest, ...change }));
      return file;
    };
    failedWith(
      await gated(variant({ finishedAt: new Date(Date.now() - 2 * 3_600_000).toISOString() })),
      /taken 120 min ago, more than backup-max-age \(60 min\)/,
    );
    failedWith(
      await gated(variant({ verifications: [{ level: 'list', ok: false, at: new Date().toISOString() }] })),
      /FAILED its verification \(list\)/,
    );
    failedWith(await gated(variant({ database: 'other' })), /the backup is of the database "other"/);
    expect(await tracked(name).catch(() => [])).toEqual([]);
    const run = await gated(manifestFile);
    ok(run);
    expect(run.stdout).toMatch(/backup gate passed/);
  });
});

describe('maintenance', () => {
  it('long-queries terminates a pg_sleep past the threshold, leaving a shorter one and our own session alone', async () => {
    const { url } = await db.freshDatabase();
    const long = new pg.Client({ connectionString: url, application_name: 'long' });
    const short = new pg.Client({ connectionString: url, application_name: 'short' });
    long.on('error', () => undefined); // it is the one terminated
    short.on('error', () => undefined);
    await Promise.all([long.connect(), short.connect()]);
    const longQuery = long.query("SELECT pg_sleep(30), 'secret-literal'").catch((e: Error) => e);
    // The short query starts when the long one is past the threshold, and stays under it for as long as
    // the action may take to start and look on a loaded 2-core runner (CI saw it cross a 1 s threshold).
    await new Promise((r) => setTimeout(r, 4500));
    const shortQuery = short.query('SELECT pg_sleep(5)');
    await new Promise((r) => setTimeout(r, 200));
    const run = await migrateAction(url, {
      mode: 'maintenance',
      tasks: 'long-queries,connections,locks,size,slow-queries,bloat',
      'long-query-after': '4s',
      terminate: 'true',
    });
    ok(run);
    const report = JSON.parse(run.outputs.report ?? '{}');
    expect(report['long-queries'].terminated).toHaveLength(1);
    expect(await longQuery).toBeInstanceOf(Error);
    await expect(shortQuery).resolves.toBeDefined();
    expect(run.stdout).toMatch(/terminated pid \d+ \(user bunty, [\d.]+ s\): SELECT pg_sleep\(\?\), \?/);
    expect(run.stdout).not.toContain('secret-literal');
    expect(run.summary).toMatch(/### slow-queries: pg_stat_statements is not installed/);
    expect(report.size.bytes).toBeGreaterThan(0);
    await Promise.all([long.end().catch(() => undefined), short.end()]);
  });

  it('analyze, vacuum-analyze and reindex run on every table, odd names quoted', async () => {
    const { url } = await db.freshDatabase();
    const run = await migrateAction(url, { mode: 'maintenance', tasks: 'analyze\nvacuum-analyze\nreindex' });
    ok(run);
    expect(run.stdout).toMatch(/reindexed public\.Odd "Name" Table concurrently/);
  });
});

describe('refusals', () => {
  it('a wrong password never appears in any output', async () => {
    const wrong = 'n0t-the-Passw0rd';
    const run = await runActionBundle(
      'action-db-migrate',
      {
        'database-url': `postgresql://bunty:${wrong}@127.0.0.1:${db.postgres.port}/bunty`,
        'migrations-dir': folder(INIT),
        'require-backup': 'false',
      },
      { secrets: [wrong, db.postgres.password] },
    );
    failedWith(run, /password authentication failed/);
  });

  it.each([
    [
      'a file name that is not NNN_name.sql',
      { '001_a.sql': 'SELECT 1;', "002_x'; DROP TABLE accounts; --.sql": 'SELECT 1;' },
      {},
      /Input 'migrations-dir': holds "002_x'; DROP TABLE accounts; --\.sql"/,
    ],
    [
      'a typo in a name',
      { '001_a.sql': 'SELECT 1;', '002-add-users.sql': 'SELECT 1;' },
      {},
      /holds "002-add-users\.sql"/,
    ],
    [
      'a hostile tracking table',
      { '001_a.sql': 'SELECT 1;' },
      { 'tracking-table': 'm; DROP TABLE users' },
      /Input 'tracking-table': "m; DROP TABLE users" is not a table name/,
    ],
    [
      'two files with one number',
      { '001_a.sql': 'SELECT 1;', '01_b.sql': 'SELECT 1;' },
      {},
      /two migrations numbered 01: 001_a\.sql and 01_b\.sql|two migrations numbered/,
    ],
    [
      'a COMMIT inside a migration',
      { '001_a.sql': 'CREATE TABLE a (id int);\nCOMMIT;\n' },
      {},
      /001_a\.sql line 2 \(COMMIT\) ends or starts a transaction/,
    ],
    [
      'an unknown task',
      {},
      { mode: 'maintenance', tasks: 'vacuum-full' },
      /Input 'tasks': "vacuum-full" is not a task/,
    ],
  ])('%s is refused by name, nothing run', async (_what, files, inputs, message) => {
    const { name, url } = await db.freshDatabase();
    const run = await migrateAction(url, {
      'migrations-dir': folder(files as Record<string, string>),
      ...(inputs as Record<string, string>),
    });
    failedWith(run, message);
    expect(await exists(name, 'runbook_migrations')).toBe(false);
    expect(await exists(name, 'users')).toBe(true);
  });
});
