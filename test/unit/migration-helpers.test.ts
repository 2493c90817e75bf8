import { describe, expect, it } from '@jest/globals';
import { splitStatements } from '../../shared/src/postgres/migrations/statements.js';
import { planMigrations } from '../../shared/src/postgres/migrations/plan.js';
import type { MigrationFile } from '../../shared/src/postgres/migrations/files.js';
import { redactQuery } from '../../shared/src/postgres/maintenance/tasks.js';

describe('splitStatements', () => {
  it('splits on semicolons outside quotes, identifiers, dollar bodies and comments, with start lines', () => {
    const sql = [
      '-- a comment; not a statement',
      "INSERT INTO t VALUES ('a;b', 'it''s');",
      'CREATE TABLE "x;y" (id int); /* block; comment */',
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;',
      '',
      'SELECT $$;$$',
    ].join('\n');
    expect(splitStatements(sql)).toEqual([
      { sql: "-- a comment; not a statement\nINSERT INTO t VALUES ('a;b', 'it''s')", line: 1 },
      { sql: 'CREATE TABLE "x;y" (id int)', line: 3 },
      {
        sql: '/* block; comment */\nCREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql',
        line: 3,
      },
      { sql: 'SELECT $$;$$', line: 6 },
    ]);
  });
});

describe('planMigrations', () => {
  const file = (version: string, sha = 's'): MigrationFile => ({
    version,
    name: 'n',
    file: `${version}_n.sql`,
    sql: '',
    sha256: sha,
    noTransaction: false,
  });
  const row = (version: string, sha = 's') => ({
    version,
    name: 'n',
    sha256: sha,
    applied_at: new Date(0),
    applied_by: 'x',
    duration_ms: 1,
  });
  it('tells applied, pending, changed, missing and out-of-order apart, comparing versions as numbers', () => {
    const plan = planMigrations(
      [file('001'), file('002', 'new'), file('004'), file('010')],
      [row('1'), row('2'), row('3'), row('5')],
    );
    expect(plan.changed.map((c) => c.file.file)).toEqual(['002_n.sql']);
    expect(plan.missing.map((m) => m.version)).toEqual(['3', '5']);
    expect(plan.pending.map((f) => f.file)).toEqual(['004_n.sql', '010_n.sql']);
    expect(plan.outOfOrder.map((f) => f.file)).toEqual(['004_n.sql']);
    expect(plan.currentVersion).toBe('5');
  });
});

describe('redactQuery', () => {
  it('keeps the shape of a query and none of its literals', () => {
    expect(redactQuery("SELECT * FROM users WHERE email = 'a@b.c' AND id = 42 AND body = $q$secret$q$")).toBe(
      'SELECT * FROM users WHERE email = ? AND id = ? AND body = ?',
    );
  });
});
