/**
 * action-db-backup through its committed bundle, against real PostgreSQL servers: round trips in
 * every format compared table by table, every verification level, pg_dump killed mid-stream, a full
 * disk, a flipped byte, a manifest that disagrees, refused restores, a wrong password, a client
 * older than the server, retention, and the way through the droplet's sshd.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  copyFileSync,
  openSync,
  readSync,
  writeSync,
  closeSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runActionBundle, type ActionRun } from '../../sandbox/index.js';
import { startDatabaseHost, type DatabaseHost } from '../../sandbox/database-host.js';
import { tableContents } from '../../sandbox/sample-data.js';
import { dropletShell } from '../../sandbox/deploy-host.js';
import { waitFor } from '../helpers/wait-for.js';

const isRoot = process.getuid?.() === 0;
let db: DatabaseHost;
let scratch: DatabaseHost;
let work: string;

beforeAll(async () => {
  [db, scratch] = await Promise.all([startDatabaseHost(), startDatabaseHost()]);
  work = mkdtempSync(join(tmpdir(), 'runbook-backup-test-'));
}, 60_000);
afterAll(async () => {
  await Promise.all([db?.droplet.stop(), scratch?.droplet.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const secrets = () => [db.postgres.password, scratch.postgres.password];
let dirs = 0;
const newDir = () => join(work, `d${++dirs}`);

function backupAction(inputs: Record<string, string>, timeoutMs = 60_000): Promise<ActionRun> {
  return runActionBundle('action-db-backup', inputs, { secrets: secrets(), timeoutMs });
}

const failedWith = (run: ActionRun, text: RegExp) => {
  expect(run.exitCode).toBe(1);
  expect(run.errors.join('\n')).toMatch(text);
};

async function backupOf(url: string, extra: Record<string, string> = {}): Promise<ActionRun> {
  const run = await backupAction({ 'database-url': url, path: newDir(), ...extra });
  expect(run.errors).toEqual([]);
  expect(run.exitCode).toBe(0);
  return run;
}

async function mutate(name: string): Promise<void> {
  await db.sql(
    name,
    `DELETE FROM ledger.entries WHERE booked_on < '2026-11-10'; UPDATE users SET balance = -1; DROP TABLE "Odd ""Name"" Table"; INSERT INTO empty_table VALUES (1)`,
  );
}

describe('backup, verify and restore round trips', () => {
  for (const [label, format, compression] of [
    ['custom', 'custom', '1'],
    ['directory', 'directory', '1'],
    ['plain-gzip', 'plain-gzip', '1'],
    // pg_dump 15 has no zstd: its uncompressed archive through Node's zstd, read back through a pipe.
    ['custom, compression zstd', 'custom-zstd', 'zstd'],
  ] as const) {
    it(`${label}: a backup verified by restore brings back the same rows, table by table`, async () => {
      const { name, url } = await db.freshDatabase();
      const before = await tableContents(url);
      const run = await backupOf(url, {
        format: format === 'custom-zstd' ? 'custom' : format,
        compression,
        verify: 'restore',
        'scratch-database-url': scratch.superuser(),
      });
      if (format === 'custom-zstd') {
        expect(run.outputs.path).toMatch(/\.dump\.zst$/);
        expect(
          readFileSync(run.outputs.path as string)
            .subarray(0, 4)
            .toString('hex'),
        ).toBe('28b52ffd');
      }
      expect(run.outputs.verified).toBe('true');
      expect(Number(run.outputs['restore-ms'])).toBeGreaterThan(0);
      const tables = JSON.parse(run.outputs.tables ?? '{}') as Record<string, number>;
      expect(tables).toEqual(Object.fromEntries(Object.entries(before).map(([t, rows]) => [t, rows.length])));
      const manifest = JSON.parse(readFileSync(run.outputs.manifest as string, 'utf8'));
      expect(manifest).toMatchObject({
        format,
        ...(compression === 'zstd' ? { codec: 'zstd', compression: 1 } : {}),
        database: name,
        sha256: run.outputs.sha256,
        verifications: [{ level: 'restore', ok: true }],
      });
      expect(run.summary).toContain(run.outputs.sha256?.slice(0, 16));
      // the scratch server is left clean
      expect(
        await scratch.sql(
          'postgres',
          "SELECT datname FROM pg_database WHERE datname LIKE 'runbook_verify_%'",
        ),
      ).toEqual([]);

      await mutate(name);
      const restored = await backupAction({
        mode: 'restore',
        'database-url': url,
        backup: run.outputs.path as string,
        confirm: name,
        path: newDir(),
      });
      expect(restored.errors).toEqual([]);
      expect(restored.outputs.restored).toBe('true');
      expect(existsSync(restored.outputs['safety-backup'] as string)).toBe(true);
      const after = await tableContents(url);
      // empty_table got a row after the backup; --clean recreates it from the backup, empty again
      expect(after).toEqual(before);
    }, 90_000);
  }

  it("plain-gzip restores with the runbook's own `gunzip < f | psql`, over the live database", async () => {
    const { name, url } = await db.freshDatabase();
    const before = await tableContents(url);
    const run = await backupOf(url, { format: 'plain-gzip' });
    await mutate(name);
    execFileSync('bash', [
      '-c',
      'set -o pipefail; gunzip < "$1" | psql -X -q -v ON_ERROR_STOP=1 "$2" > /dev/null',
      'sh',
      run.outputs.path as string,
      url,
    ]);
    expect(await tableContents(url)).toEqual(before);
  }, 60_000);

  it("restores the runbook's own pg_dump | gzip file (no manifest) and reports the rows", async () => {
    const source = await db.freshDatabase();
    const target = await db.freshDatabase();
    await db.sql(
      target.name,
      'DROP SCHEMA ledger CASCADE; DROP TABLE users, events, "Odd ""Name"" Table", empty_table CASCADE',
    );
    const file = join(newDir(), 'bunty-backup-20261130.sql.gz');
    mkdirSync(join(file, '..'), { recursive: true });
    execFileSync('bash', ['-c', 'pg_dump "$1" | gzip > "$2"', 'sh', source.url, file]);
    const run = await backupAction({
      mode: 'restore',
      'database-url': target.url,
      backup: file,
      confirm: target.name,
      'safety-backup': 'false',
    });
    expect(run.errors).toEqual([]);
    expect(run.outputs.restored).toBe('true');
    expect(await tableContents(target.url)).toEqual(await tableContents(source.url));
  }, 60_000);
});

describe('verification levels', () => {
  let good: ActionRun;
  beforeAll(async () => {
    good = await backupOf((await db.freshDatabase()).url, { verify: 'none' });
  }, 60_000);

  for (const level of ['checksum', 'list', 'read', 'restore']) {
    it(`${level} passes on a good backup and is recorded in the manifest`, async () => {
      const run = await backupAction({
        mode: 'verify',
        backup: good.outputs.manifest as string,
        level,
        'scratch-database-url': level === 'restore' ? scratch.superuser() : '',
      });
      expect(run.errors).toEqual([]);
      expect(run.outputs).toMatchObject({ verified: 'true', level, mismatches: '[]' });
      const manifest = JSON.parse(readFileSync(good.outputs.manifest as string, 'utf8'));
      expect(manifest.verifications.at(-1)).toMatchObject({ level, ok: true });
    }, 60_000);
  }

  it('one flipped byte fails checksum and read (and read without a manifest too)', async () => {
    const dir = newDir();
    mkdirSync(dir);
    const copy = join(dir, 'flipped.dump');
    copyFileSync(good.outputs.path as string, copy);
    copyFileSync(good.outputs.manifest as string, `${copy}.manifest.json`);
    const fd = openSync(copy, 'r+');
    const at = Math.floor(statSync(copy).size / 2);
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] = (byte[0] as number) ^ 0xff;
    writeSync(fd, byte, 0, 1, at);
    closeSync(fd);
    for (const level of ['checksum', 'read']) {
      const run = await backupAction({ mode: 'verify', backup: copy, level });
      failedWith(run, /FAILED verification.*checksum: sha256 .* ≠ manifest/s);
      expect(run.outputs.verified).toBe('false');
    }
    rmSync(`${copy}.manifest.json`);
    const run = await backupAction({ mode: 'verify', backup: copy, level: 'read' });
    failedWith(run, /FAILED verification.*read: pg_restore failed/s);
  }, 60_000);

  it('a backup whose counts differ from its manifest fails restore verification, naming the table', async () => {
    const dir = newDir();
    mkdirSync(dir);
    const copy = join(dir, 'app.dump');
    copyFileSync(good.outputs.path as string, copy);
    const manifest = JSON.parse(readFileSync(good.outputs.manifest as string, 'utf8'));
    manifest.tables['ledger.entries'] += 1;
    manifest.verifications = [];
    writeFileSync(`${copy}.manifest.json`, JSON.stringify(manifest));
    const run = await backupAction({
      mode: 'verify',
      backup: copy,
      level: 'restore',
      'scratch-database-url': scratch.superuser(),
    });
    failedWith(run, /ledger\.entries: 1500 rows, manifest says 1501/);
    expect(JSON.parse(run.outputs.mismatches ?? '[]')).toEqual([
      { table: 'ledger.entries', expected: 1501, actual: 1500 },
    ]);
    expect(
      await scratch.sql('postgres', "SELECT datname FROM pg_database WHERE datname LIKE 'runbook_verify_%'"),
    ).toEqual([]);
  }, 60_000);
});

describe('faults while writing', () => {
  it('pg_dump killed mid-stream fails the step and leaves no file with the final name', async () => {
    const { name, url } = await db.freshDatabase();
    // Enough rows that the dump runs for a few seconds.
    await db.sql(
      name,
      'CREATE TABLE filler AS SELECT g, md5(g::text) || repeat(md5(random()::text), 20) AS t FROM generate_series(1, 400000) g; ALTER TABLE filler OWNER TO bunty',
    );
    const dir = newDir();
    let pid = 0;
    const running = runActionBundle(
      'action-db-backup',
      { 'database-url': url, path: dir, compression: '9' },
      {
        secrets: secrets(),
        onSpawn: (child) => (pid = child.pid ?? 0),
      },
    );
    let dumpPid = 0;
    await waitFor('pg_dump writing the partial file', () => {
      try {
        const found = execFileSync('pgrep', ['-P', String(pid), 'pg_dump'])
          .toString()
          .trim();
        if (found && existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial')))
          dumpPid = Number(found);
      } catch {
        /* not started yet */
      }
      return dumpPid > 0;
    });
    process.kill(dumpPid, 'SIGKILL');
    const run = await running;
    failedWith(run, /pg_dump failed: killed by SIGKILL/);
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('a cancelled run (SIGINT, as the runner sends) stops pg_dump and leaves nothing behind', async () => {
    const { name, url } = await db.freshDatabase();
    await db.sql(
      name,
      'CREATE TABLE filler AS SELECT g, md5(g::text) || repeat(md5(random()::text), 20) AS t FROM generate_series(1, 400000) g; ALTER TABLE filler OWNER TO bunty',
    );
    const dir = newDir();
    let child: ChildProcess | undefined;
    const running = runActionBundle(
      'action-db-backup',
      { 'database-url': url, path: dir, compression: '9' },
      { secrets: secrets(), onSpawn: (c) => (child = c) },
    );
    await waitFor(
      'the partial file',
      () => existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.partial')),
    );
    child?.kill('SIGINT');
    const run = await running;
    failedWith(run, /cancelled \(SIGINT\)/);
    expect(readdirSync(dir)).toEqual([]);
    expect(() => execFileSync('pgrep', ['-f', `pg_dump.*${name}`])).toThrow(); // no pg_dump left running
  }, 60_000);

  (isRoot ? it : it.skip)(
    'a full disk (a small tmpfs) gives a clear error and no partial file',
    async () => {
      const { name, url } = await db.freshDatabase();
      await db.sql(
        name,
        "CREATE TABLE filler AS SELECT g, encode(gen_random_bytes(300), 'base64') AS t FROM generate_series(1, 20000) g; ALTER TABLE filler OWNER TO bunty",
      );
      const dir = newDir();
      mkdirSync(dir);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]);
      try {
        const run = await backupAction({ 'database-url': url, path: dir });
        failedWith(run, /did not fit: no space left on the device holding .*No backup file was written/s);
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        execFileSync('umount', [dir]);
      }
    },
    60_000,
  );
});

describe('refusals that touch nothing', () => {
  it('restore without confirm, or with the wrong name, changes nothing', async () => {
    const { name, url } = await db.freshDatabase();
    const run0 = await backupOf(url);
    await mutate(name);
    const before = await tableContents(url);
    for (const confirm of ['', 'production', `${name} `.trim() + 'x']) {
      const dir = newDir();
      const run = await backupAction({
        mode: 'restore',
        'database-url': url,
        backup: run0.outputs.path as string,
        confirm,
        path: dir,
      });
      failedWith(
        run,
        new RegExp(`Input 'confirm': must be the name of the database being restored over, "${name}"`),
      );
      expect(existsSync(dir)).toBe(false); // not even a safety backup
    }
    expect(await tableContents(url)).toEqual(before);
  }, 60_000);

  it('a backup of another database is refused over this one unless allow-other-database; a path that is a file is an input error', async () => {
    const source = await db.freshDatabase();
    const target = await db.freshDatabase();
    const backup = await backupOf(source.url);
    await mutate(target.name);
    const before = await tableContents(target.url);
    const dir = newDir();
    const refused = await backupAction({
      mode: 'restore',
      'database-url': target.url,
      backup: backup.outputs.path as string,
      confirm: target.name,
      path: dir,
    });
    failedWith(
      refused,
      new RegExp(
        `^Input 'allow-other-database': the backup .* is of database "${source.name}" \\(its manifest\\), not of "${target.name}"`,
      ),
    );
    expect(existsSync(dir)).toBe(false);
    expect(await tableContents(target.url)).toEqual(before);
    const allowed = await backupAction({
      mode: 'restore',
      'database-url': target.url,
      backup: backup.outputs.path as string,
      confirm: target.name,
      'allow-other-database': 'true',
      'safety-backup': 'false',
    });
    expect(allowed.errors).toEqual([]);
    expect(await tableContents(target.url)).toEqual(await tableContents(source.url));

    const file = join(newDir(), 'not-a-dir');
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, 'x');
    failedWith(
      await backupAction({ 'database-url': source.url, path: file }),
      /^Input 'path': ".*not-a-dir" is a file, not a directory/,
    );
  }, 90_000);

  it('a session idle in a transaction holding a row lock: the restore waits lock-wait, names it, refuses; terminate-blockers ends it', async () => {
    const { name, url } = await db.freshDatabase();
    const backup = await backupOf(url);
    await mutate(name);
    const before = await tableContents(url);
    const holder = new pg.Client({ connectionString: url, application_name: 'idle-holder' });
    holder.on('error', () => undefined);
    await holder.connect();
    try {
      await holder.query("BEGIN; SELECT * FROM users WHERE email <> 'holder-literal@example.com' FOR UPDATE");
      const started = Date.now();
      const refused = await backupAction({
        mode: 'restore',
        'database-url': url,
        backup: backup.outputs.path as string,
        confirm: name,
        'lock-wait': '2s',
        'safety-backup': 'false',
      });
      failedWith(
        refused,
        /Refused to restore over .*1 other session\(s\) still hold a transaction open after 2 s .*pid \d+ .*idle in transaction.*WHERE email <> \?.*Nothing was changed/s,
      );
      expect(refused.stdout + refused.stderr).not.toMatch(/holder-literal/);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(await tableContents(url)).toEqual(before);
      const ended = await backupAction({
        mode: 'restore',
        'database-url': url,
        backup: backup.outputs.path as string,
        confirm: name,
        'lock-wait': '1s',
        'terminate-blockers': 'true',
        'safety-backup': 'false',
      });
      expect(ended.errors).toEqual([]);
      expect(ended.stdout).toMatch(/terminated pid \d+/);
      expect(await tableContents(url)).not.toEqual(before);
    } finally {
      await holder.end().catch(() => undefined);
    }
  }, 90_000);

  it('a table made after the backup with a foreign key into it: rolled back, the dependent object named, no plain-dump hint', async () => {
    const { name, url } = await db.freshDatabase();
    const backup = await backupOf(url);
    await db.sql(
      name,
      'CREATE TABLE audit_trail (user_id uuid REFERENCES users (id)); ALTER TABLE audit_trail OWNER TO bunty',
    );
    const before = await tableContents(url);
    const run = await backupAction({
      mode: 'restore',
      'database-url': url,
      backup: backup.outputs.path as string,
      confirm: name,
      'safety-backup': 'false',
    });
    failedWith(
      run,
      /failed and was rolled back.*Objects that are not in the backup depend on objects it replaces \(.*audit_trail.*\)/s,
    );
    expect(run.errors.join('\n')).not.toMatch(/plain dump/);
    expect(await tableContents(url)).toEqual(before);
  }, 60_000);

  it('a backup too large for one transaction over the live database is refused before anything starts, saying what to raise', async () => {
    const { name, url } = await db.freshDatabase();
    const tables = Array.from(
      { length: 1200 },
      (_, i) => `CREATE TABLE wide_${i} (id serial PRIMARY KEY, note text)`,
    );
    await db.sql(name, `SET ROLE bunty; ${tables.join('; ')}`);
    const backup = await backupOf(url, { verify: 'list' });
    const dir = newDir();
    for (const dryRun of ['true', 'false']) {
      const run = await backupAction({
        mode: 'restore',
        'database-url': url,
        backup: backup.outputs.path as string,
        confirm: name,
        path: dir,
        'dry-run': dryRun,
      });
      failedWith(
        run,
        /Refused to restore .*: its one transaction would hold about \d+ locks .*max_locks_per_transaction 64 × \d+ server processes.*Nothing was changed.*raise max_locks_per_transaction to \d+ .*or restore into an empty database \(target-database-url\)/s,
      );
    }
    expect(existsSync(dir)).toBe(false);
  }, 120_000);

  it('a table the role cannot read fails the backup naming it, and writes nothing', async () => {
    const { name, url } = await db.freshDatabase();
    await db.sql(name, 'CREATE TABLE secret_admin_notes (note text)');
    const dir = newDir();
    const run = await backupAction({ 'database-url': url, path: dir });
    failedWith(run, /public\.secret_admin_notes.*permission denied/s);
    expect(run.errors.join('\n')).not.toMatch(/Unexpected error/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a wrong password fails, naming the user and never the password', async () => {
    const wrong = 'Wr0ng-p4ss-!@#';
    const dir = newDir();
    const run = await runActionBundle(
      'action-db-backup',
      {
        'database-url': `postgresql://bunty:${encodeURIComponent(wrong)}@127.0.0.1:${db.postgres.port}/bunty`,
        path: dir,
      },
      { secrets: [...secrets(), wrong, encodeURIComponent(wrong)] },
    );
    failedWith(
      run,
      /Could not connect to PostgreSQL bunty@127\.0\.0\.1:\d+\/bunty: password authentication failed .*the user or password was refused/s,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it('a client older than the server is refused, naming both versions and what to install', async () => {
    const bin = join(work, 'old-client');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['pg_dump', 'pg_restore', 'psql']) {
      writeFileSync(
        join(bin, tool),
        `#!/bin/sh\n[ "$1" = --version ] && { echo "${tool} (PostgreSQL) 14.11"; exit 0; }\necho "not for use" >&2; exit 3\n`,
      );
      chmodSync(join(bin, tool), 0o755);
    }
    const dir = newDir();
    const run = await backupAction({ 'database-url': db.postgres.url, path: dir, 'pg-bin-dir': bin });
    failedWith(
      run,
      /client tools here are version 14\.11 .*older than the server \(PostgreSQL 15\.\d+\).*postgresql-client-15/s,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it.each([
    [
      'database-url',
      { 'database-url': 'mysql://root@db/app' },
      /Input 'database-url': uses the scheme "mysql:"/,
    ],
    ['database-url', { 'database-url': '' }, /Input 'database-url': is required/],
    ['format', { format: 'tar' }, /Input 'format'/],
    ['mode', { mode: 'backpu' }, /Input 'mode'/],
    ['compression', { compression: '11' }, /Input 'compression'/],
    ['remote-dir', { 'remote-dir': '/var/backups/bunty' }, /Input 'remote-dir': needs ssh-host/],
    [
      'from-host',
      { mode: 'verify', backup: '/var/backups/bunty/bunty-latest.dump', 'from-host': 'true' },
      /Input 'from-host': needs ssh-host/,
    ],
    [
      'scratch-database-url',
      { verify: 'restore' },
      /Input 'scratch-database-url': is required for verify: restore/,
    ],
  ])('bad input %s is refused by name, exit 1, nothing written', async (_name, inputs, message) => {
    const dir = newDir();
    const run = await backupAction({ 'database-url': db.postgres.url, path: dir, ...inputs });
    failedWith(run, message);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('dry run', () => {
  it('prints what each mode would write, verify, remove or restore, and changes nothing', async () => {
    const { name, url } = await db.freshDatabase();
    const existing = await backupOf(url);
    const dir = join(existing.outputs.path as string, '..');
    const files = readdirSync(dir).sort();
    const planned = await backupAction({
      'database-url': url,
      path: dir,
      'keep-last': '0',
      'keep-daily': '0',
      'keep-weekly': '1',
      'dry-run': 'true',
    });
    expect(planned.errors).toEqual([]);
    expect(planned.stdout).toMatch(
      new RegExp(`\\[dry-run\\] would write ${dir}/${name}-\\d{8}T\\d{6}Z\\.dump`),
    );
    expect(planned.stdout).toContain('[dry-run] retention in');
    expect(planned.outputs.path).toBe('');
    await mutate(name);
    const before = await tableContents(url);
    const restore = await backupAction({
      mode: 'restore',
      'database-url': url,
      backup: existing.outputs.path as string,
      confirm: name,
      path: dir,
      'dry-run': 'true',
    });
    expect(restore.errors).toEqual([]);
    expect(restore.stdout).toMatch(
      /\[dry-run\] would restore .* over bunty@127\.0\.0\.1:\d+\/app_\d+_\d+ in one transaction/,
    );
    expect(restore.outputs.restored).toBe('false');
    const verify = await backupAction({
      mode: 'verify',
      backup: existing.outputs.path as string,
      level: 'read',
      'dry-run': 'true',
    });
    expect(verify.stdout).toContain('[dry-run] would verify');
    expect(await tableContents(url)).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(files);
  }, 60_000);
});

describe('retention', () => {
  it('keeps the newest verified backup whatever the numbers say, and prints the plan first', async () => {
    const { url } = await db.freshDatabase();
    const dir = newDir();
    const first = await backupOf(url, { path: dir, 'keep-last': '0', 'keep-daily': '0', 'keep-weekly': '0' });
    // Older backups of ours, and a file that is not ours: made from the first one under older names.
    const manifest = JSON.parse(readFileSync(first.outputs.manifest as string, 'utf8'));
    const fake = (stamp: string, verified: boolean) => {
      const file = first.outputs.path?.replace(/-\d{8}T\d{6}Z\.dump$/, `-${stamp}.dump`) as string;
      copyFileSync(first.outputs.path as string, file);
      writeFileSync(
        `${file}.manifest.json`,
        JSON.stringify({ ...manifest, verifications: verified ? manifest.verifications : [] }),
      );
      return file.split('/').pop() as string;
    };
    const oldVerified = fake('20261101T020000Z', true);
    const older = fake('20261020T020000Z', false);
    const unverified = fake('20261120T020000Z', false);
    rmSync(first.outputs.path as string);
    rmSync(first.outputs.manifest as string);
    writeFileSync(join(dir, 'bunty-backup-20261001.sql.gz'), 'not ours');
    const run = await backupOf(url, {
      path: dir,
      verify: 'none',
      'keep-last': '1',
      'keep-daily': '1',
      'keep-weekly': '0',
    });
    const left = readdirSync(dir)
      .filter((f) => !f.endsWith('.manifest.json'))
      .sort();
    const newest = (run.outputs.path as string).split('/').pop() as string;
    expect(left).toEqual(['bunty-backup-20261001.sql.gz', oldVerified, newest].sort());
    expect(run.stdout).toMatch(new RegExp(`keep {3}${oldVerified} \\(newest verified\\)`));
    expect(run.stdout).toContain(`remove ${unverified} (never verified)`);
    expect(left).not.toContain(older);
  }, 60_000);
});

(isRoot ? describe : describe.skip)('through the droplet', () => {
  let host: DatabaseHost;
  beforeAll(async () => {
    host = await startDatabaseHost({ sshd: true });
    // A name only the droplet resolves: the URL's host must be looked up there, not here.
    dropletShell(
      host.droplet,
      'cp /etc/hosts /tmp/runbook-hosts && echo "127.0.0.1 db.droplet.internal" >> /tmp/runbook-hosts && mount --bind /tmp/runbook-hosts /etc/hosts',
    );
  }, 60_000);
  afterAll(() => host?.droplet.stop());

  const sshInputs = () => {
    const sshd = host.droplet.sshd as NonNullable<typeof host.droplet.sshd>;
    return {
      'ssh-host': `${sshd.user}@${sshd.host}:${sshd.port}`,
      'ssh-key': sshd.privateKey,
      'known-hosts': sshd.knownHosts,
      'connect-attempts': '1',
    };
  };

  it('backs up through an SSH tunnel, copies to remote-dir and moves the latest link after a complete copy', async () => {
    const url = host.postgres.url.replace('127.0.0.1', 'db.droplet.internal');
    const remoteDir = `${host.droplet.hostRoot}/var/backups/bunty`;
    const runs: ActionRun[] = [];
    for (let i = 0; i < 2; i++) {
      const run = await runActionBundle(
        'action-db-backup',
        { 'database-url': url, path: newDir(), 'remote-dir': remoteDir, ...sshInputs() },
        { secrets: [host.postgres.password, host.droplet.sshd?.privateKey ?? ''], timeoutMs: 60_000 },
      );
      expect(run.errors).toEqual([]);
      runs.push(run);
    }
    const last = runs[1] as ActionRun;
    expect(last.stdout).toMatch(/reached through bunty|reached through \S+@127\.0\.0\.1/);
    const real = host.droplet.realPath(remoteDir);
    const file = (last.outputs['remote-path'] as string).split('/').pop() as string;
    expect(readlinkSync(join(real, 'bunty-latest.dump'))).toBe(file);
    expect(readlinkSync(join(real, 'bunty-latest.dump.manifest.json'))).toBe(`${file}.manifest.json`);
    expect(readFileSync(join(real, file)).equals(readFileSync(last.outputs.path as string))).toBe(true);
    expect(readdirSync(real).filter((f) => f.endsWith('.partial'))).toEqual([]);
    // Retention on the droplet: a third backup keeping only the last one removes the two before it there.
    const pruned = await runActionBundle(
      'action-db-backup',
      {
        'database-url': url,
        path: newDir(),
        'remote-dir': remoteDir,
        'keep-last': '1',
        'keep-daily': '0',
        'keep-weekly': '0',
        ...sshInputs(),
      },
      { secrets: [host.postgres.password, host.droplet.sshd?.privateKey ?? ''], timeoutMs: 60_000 },
    );
    expect(pruned.errors).toEqual([]);
    const newest = (pruned.outputs['remote-path'] as string).split('/').pop() as string;
    expect(pruned.stdout).toMatch(
      new RegExp(`retention in \\S+:${remoteDir.replace(/\//g, '\\/')}: keep 1, remove 2`),
    );
    expect(readdirSync(real).sort()).toEqual(
      ['bunty-latest.dump', 'bunty-latest.dump.manifest.json', newest, `${newest}.manifest.json`].sort(),
    );
    expect(readlinkSync(join(real, 'bunty-latest.dump'))).toBe(newest);
  }, 90_000);

  it('a directory-format backup is copied file by file, checked there, and gets its own latest link', async () => {
    const url = host.postgres.url.replace('127.0.0.1', 'db.droplet.internal');
    const remoteDir = `${host.droplet.hostRoot}/var/backups/bunty-dir`;
    const run = await runActionBundle(
      'action-db-backup',
      { 'database-url': url, path: newDir(), format: 'directory', 'remote-dir': remoteDir, ...sshInputs() },
      { secrets: [host.postgres.password, host.droplet.sshd?.privateKey ?? ''], timeoutMs: 60_000 },
    );
    expect(run.errors).toEqual([]);
    const real = host.droplet.realPath(remoteDir);
    const dir = (run.outputs['remote-path'] as string).split('/').pop() as string;
    expect(readlinkSync(join(real, 'bunty-latest.dir'))).toBe(dir);
    const local = run.outputs.path as string;
    for (const f of readdirSync(local)) {
      expect(readFileSync(join(real, dir, f)).equals(readFileSync(join(local, f)))).toBe(true);
    }
  }, 60_000);

  it('verifies and restores a backup kept on the droplet (from-host), following its latest link', async () => {
    const fresh = await host.freshDatabase();
    const remoteDir = `${host.droplet.hostRoot}/var/backups/from-host`;
    const options = {
      secrets: [host.postgres.password, host.droplet.sshd?.privateKey ?? ''],
      timeoutMs: 60_000,
    };
    const taken = await runActionBundle(
      'action-db-backup',
      { 'database-url': fresh.url, path: newDir(), 'remote-dir': remoteDir, name: 'app', ...sshInputs() },
      options,
    );
    expect(taken.errors).toEqual([]);
    const latest = `${remoteDir}/app-latest.dump`;
    const verified = await runActionBundle(
      'action-db-backup',
      {
        mode: 'verify',
        backup: latest,
        'from-host': 'true',
        level: 'restore',
        'scratch-database-url': scratch.superuser(),
        path: newDir(),
        ...sshInputs(),
      },
      { ...options, secrets: [...options.secrets, scratch.postgres.password] },
    );
    expect(verified.errors).toEqual([]);
    expect(verified.outputs.verified).toBe('true');
    // The scratch server (a workflow's service container) is the runner's, not the droplet's.
    expect(verified.stdout).not.toMatch(/reached through/);
    expect(verified.stdout).toMatch(
      /fetched \S+:\S+\/app-\d{8}T\d{6}Z\.dump \(\S+app-latest\.dump\) — \d+ bytes and its manifest/,
    );

    const users = (await host.sql<{ n: number }>(fresh.name, 'SELECT count(*)::int AS n FROM users'))[0]?.n;
    await host.sql(fresh.name, 'DELETE FROM ledger.entries; DELETE FROM users');
    const restored = await runActionBundle(
      'action-db-backup',
      {
        mode: 'restore',
        backup: latest,
        'from-host': 'true',
        confirm: fresh.name,
        'database-url': fresh.url,
        path: newDir(),
        ...sshInputs(),
      },
      options,
    );
    expect(restored.errors).toEqual([]);
    expect(restored.outputs.restored).toBe('true');
    expect(await host.sql(fresh.name, 'SELECT count(*)::int AS n FROM users')).toEqual([{ n: users }]);

    const missing = await runActionBundle(
      'action-db-backup',
      {
        mode: 'verify',
        backup: `${remoteDir}/nope.dump`,
        'from-host': 'true',
        path: newDir(),
        ...sshInputs(),
      },
      options,
    );
    failedWith(missing, /There is no backup at \S+:\S+\/nope\.dump/);
    const relative = await runActionBundle(
      'action-db-backup',
      { mode: 'verify', backup: 'backups/x.dump', 'from-host': 'true', ...sshInputs() },
      options,
    );
    failedWith(relative, /Input 'backup': must be an absolute path on ssh-host/);
  }, 120_000);

  it('without the tunnel the droplet-only name does not resolve here: the error says to set ssh-host', async () => {
    const url = host.postgres.url.replace('127.0.0.1', 'db.droplet.internal');
    const run = await runActionBundle(
      'action-db-backup',
      { 'database-url': url, path: newDir() },
      { secrets: [host.postgres.password] },
    );
    failedWith(run, /set ssh-host/);
  });
});
