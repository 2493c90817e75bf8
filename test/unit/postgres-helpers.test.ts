import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { ConfigurationError } from '../../shared/src/errors.js';
import { parseToolVersion } from '../../shared/src/postgres/client-tools.js';
import { conninfo, parseDatabaseUrl } from '../../shared/src/postgres/database-url.js';
import { compareCounts } from '../../shared/src/postgres/load.js';
import { extensionLineOf, isOwnershipLine, SqlLineFilter } from '../../shared/src/postgres/plain-dump.js';
import { backupTime, planRetention, type BackupEntry } from '../../shared/src/postgres/retention.js';

describe('parseDatabaseUrl', () => {
  it('masks the password in its decoded and encoded forms before anything else', () => {
    const masked: string[] = [];
    const db = parseDatabaseUrl(
      'database-url',
      'postgresql://app:p%40ss%2Fw0rd@db.internal:6432/bunty?sslmode=require',
      (s) => masked.push(s),
    );
    expect(masked).toEqual(['p@ss/w0rd', 'p%40ss%2Fw0rd']);
    expect(db).toEqual({
      host: 'db.internal',
      port: 6432,
      database: 'bunty',
      user: 'app',
      password: 'p@ss/w0rd',
      params: { sslmode: 'require' },
    });
  });
  it('never puts the password in the conninfo given to the tools; a tunnel keeps the real host for TLS', () => {
    const db = parseDatabaseUrl('database-url', "postgres://o'neil:secret@h/d b", () => undefined);
    const info = conninfo(db, { address: '127.0.0.1', port: 40000 });
    expect(info).not.toContain('secret');
    expect(info).toContain("user='o\\'neil'");
    expect(info).toContain("host='h' port='40000' dbname='d b'");
    expect(info).toContain("hostaddr='127.0.0.1'");
  });
  it.each([
    ['not a url', /is not a URL/],
    ['mysql://u:p@h/d', /scheme "mysql:"/],
    ['postgresql://u:p@h/', /names no database/],
    ['postgresql://h/d', /names no user/],
    ['postgresql://u@h:99999/d', /not a URL|port/],
  ])('refuses %s naming the input, without the value', (raw, message) => {
    let error: unknown;
    try {
      parseDatabaseUrl('database-url', raw, () => undefined);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/^Input 'database-url': /);
    expect((error as Error).message).toMatch(message);
    if (raw.includes(':p@')) expect((error as Error).message).not.toContain(':p@');
  });
});

describe('parseToolVersion', () => {
  it('reads the version pg_dump prints', () => {
    expect(parseToolVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)')).toEqual({
      version: '15.18',
      major: 15,
    });
    expect(parseToolVersion('pg_restore (PostgreSQL) 17devel')).toEqual({ version: '17', major: 17 });
    expect(parseToolVersion('something else')).toBeUndefined();
  });
});

describe('SqlLineFilter', () => {
  const run = async (input: string[], filter: SqlLineFilter) =>
    text(Readable.from(input.map((s) => Buffer.from(s))).pipe(filter));
  it('drops ownership statements outside COPY data only, across chunk and multi-byte boundaries', async () => {
    const sql = [
      'CREATE TABLE t (x text);\n',
      'ALTER TABLE public.t OWNER TO bunty;\n',
      'COPY public.t (x) FROM stdin;\n',
      'GRANT ALL ON x TO y;\n',
      'ü',
      '\u00fc\n\\.\n',
      'REVOKE ALL ON SCHEMA public FROM PUBLIC;\n',
      '-- PostgreSQL database dump complete\n',
    ].join('');
    const bytes = Buffer.from(sql);
    const chunks = [
      bytes.subarray(0, 70),
      bytes.subarray(70, 118),
      bytes.subarray(118, 119),
      bytes.subarray(119),
    ].map((b) => b.toString('latin1'));
    const out = await text(
      Readable.from(chunks.map((c) => Buffer.from(c, 'latin1'))).pipe(new SqlLineFilter(isOwnershipLine)),
    );
    expect(out).toBe(
      'CREATE TABLE t (x text);\nCOPY public.t (x) FROM stdin;\nGRANT ALL ON x TO y;\nüü\n\\.\n-- PostgreSQL database dump complete\n',
    );
  });
  it('leaves extension statements out only for extensions the target has; passes data through after the first COPY', async () => {
    const out = await run(
      [
        'DROP EXTENSION IF EXISTS pgcrypto;\nDROP EXTENSION IF EXISTS "uuid-ossp";\nCREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;\n',
        'COPY a FROM stdin;\nDROP EXTENSION IF EXISTS pgcrypto;\n\\.\nDROP EXTENSION IF EXISTS pgcrypto;\n',
      ],
      new SqlLineFilter(extensionLineOf(new Set(['pgcrypto', 'uuid-ossp'])), true),
    );
    expect(out).toBe(
      'CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA public;\nCOPY a FROM stdin;\nDROP EXTENSION IF EXISTS pgcrypto;\n\\.\nDROP EXTENSION IF EXISTS pgcrypto;\n',
    );
  });
});

describe('compareCounts', () => {
  it('names tables that differ, are missing, or were not in the manifest', () => {
    expect(
      compareCounts(
        { 'public.a': 1, 'public.b': 2, 'x.c': 0 },
        { 'public.a': 1, 'public.b': 3, 'public.d': 4 },
      ),
    ).toEqual([
      { table: 'public.b', expected: 2, actual: 3 },
      { table: 'x.c', expected: 0, actual: null },
      { table: 'public.d', expected: null, actual: 4 },
    ]);
  });
});

describe('retention', () => {
  const entry = (file: string, verified = true): BackupEntry => ({
    file,
    time: backupTime('bunty', file) as Date,
    verified,
  });
  it('knows our names only', () => {
    expect(backupTime('bunty', 'bunty-20261130T020000Z.dump')?.toISOString()).toBe(
      '2026-11-30T02:00:00.000Z',
    );
    expect(backupTime('bunty', 'bunty-20261130T020000Z-2.sql.gz')).toBeDefined();
    expect(backupTime('bunty', 'bunty-backup-20261130.sql.gz')).toBeUndefined();
    expect(backupTime('bunty', 'bunty-latest.dump')).toBeUndefined();
    expect(backupTime('bunty.v2', 'buntyXv2-20261130T020000Z.dump')).toBeUndefined();
  });
  it('keeps the last N, one per day and one per ISO week, newest first', () => {
    const files = [
      'bunty-20261130T140000Z.dump',
      'bunty-20261130T020000Z.dump',
      'bunty-20261129T020000Z.dump',
      'bunty-20261128T020000Z.dump',
      'bunty-20261122T020000Z.dump', // Sunday of week 47
      'bunty-20261118T020000Z.dump',
      'bunty-20261110T020000Z.dump',
    ];
    const plan = planRetention(
      files.map((f) => entry(f)),
      { keepLast: 1, keepDaily: 2, keepWeekly: 3 },
    );
    // Monday 30 Nov opens week 49; Sunday 29 Nov closes week 48; Sunday 22 Nov closes week 47.
    expect(plan.keep.map((k) => [k.file, k.why])).toEqual([
      ['bunty-20261130T140000Z.dump', ['last 1', 'daily 2026-11-30', 'weekly 2026-W49', 'newest verified']],
      ['bunty-20261129T020000Z.dump', ['daily 2026-11-29', 'weekly 2026-W48']],
      ['bunty-20261122T020000Z.dump', ['weekly 2026-W47']],
    ]);
    expect(plan.remove.map((r) => r.file)).toEqual([
      'bunty-20261130T020000Z.dump',
      'bunty-20261128T020000Z.dump',
      'bunty-20261118T020000Z.dump',
      'bunty-20261110T020000Z.dump',
    ]);
  });
  it('never removes the newest verified backup nor the one just written; all zero keeps everything', () => {
    const entries = [
      entry('bunty-20261130T020000Z.dump', false),
      entry('bunty-20261129T020000Z.dump', false),
      entry('bunty-20261101T020000Z.dump', true),
      entry('bunty-20261001T020000Z.dump', true),
    ];
    const plan = planRetention(entries, { keepLast: 1, keepDaily: 0, keepWeekly: 0 }, [
      'bunty-20261129T020000Z.dump',
    ]);
    expect(plan.keep.map((k) => [k.file, k.why])).toEqual([
      ['bunty-20261130T020000Z.dump', ['last 1']],
      ['bunty-20261129T020000Z.dump', ['just written']],
      ['bunty-20261101T020000Z.dump', ['newest verified']],
    ]);
    expect(planRetention(entries, { keepLast: 0, keepDaily: 0, keepWeekly: 0 }).remove).toEqual([]);
  });
});
