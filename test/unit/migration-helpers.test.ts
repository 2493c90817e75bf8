import { describe, expect, it } from '@jest/globals';
import { readStatements } from '../../shared/src/postgres/migrations/statements.js';
import { planMigrations } from '../../shared/src/postgres/migrations/plan.js';
import type { MigrationFile } from '../../shared/src/postgres/migrations/files.js';
import { redactLiterals } from '../../shared/src/postgres/sql-parser.js';

describe("readStatements (PostgreSQL's parser)", () => {
  const transactional = { transactional: true, role: 'migration' as const };
  it('splits where the server does — quotes, identifiers, dollar bodies, comments, BEGIN ATOMIC — with start lines', async () => {
    const sql = [
      '-- ' + '-'.repeat(40),
      '-- a comment; not a statement',
      "INSERT INTO t VALUES ('a;b', 'it''s', 'é;');",
      'CREATE TABLE "x;y" (id int); /* block; /* nested; */ comment */',
      'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;',
      'CREATE FUNCTION g() RETURNS int LANGUAGE sql',
      'BEGIN ATOMIC SELECT 1; SELECT 2; END;',
      '',
      'SELECT $$;$$',
    ].join('\n');
    expect(await readStatements(sql, transactional)).toEqual({
      statements: [
        { sql: "INSERT INTO t VALUES ('a;b', 'it''s', 'é;')", line: 3 },
        { sql: 'CREATE TABLE "x;y" (id int)', line: 4 },
        { sql: 'CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql', line: 5 },
        {
          sql: 'CREATE FUNCTION g() RETURNS int LANGUAGE sql\nBEGIN ATOMIC SELECT 1; SELECT 2; END',
          line: 6,
        },
        { sql: 'SELECT $$;$$', line: 9 },
      ],
    });
  });

  it('finds every statement that ends or starts a transaction, wherever comments put it', async () => {
    for (const [sql, word] of [
      ['CREATE TABLE a (id int);\n-- done\nCOMMIT;\nDROP TABLE users;', 'COMMIT'],
      ['CREATE TABLE a (id int);\n/* x */ ABORT;', 'ROLLBACK'],
      ['END;', 'COMMIT'],
      ['start transaction isolation level serializable;', 'START TRANSACTION'],
      ['COMMIT AND CHAIN;', 'COMMIT'],
      ["PREPARE TRANSACTION 'x';", 'PREPARE TRANSACTION'],
    ] as const) {
      const parsed = await readStatements(sql, transactional);
      expect(parsed.problem).toContain(`(${word}) ends or starts a transaction`);
    }
    const line = await readStatements('SELECT 1;\n\n  -- x\n  BEGIN;', transactional);
    expect(line.problem).toMatch(/^line 4 \(BEGIN\)/);
    // Savepoints stay inside the runner's transaction; BEGIN ATOMIC in a comment is only a comment.
    expect(
      (
        await readStatements(
          '-- BEGIN ATOMIC\nSAVEPOINT a; SELECT 1; ROLLBACK TO SAVEPOINT a; RELEASE a;',
          transactional,
        )
      ).problem,
    ).toBeUndefined();
    expect(
      (await readStatements('BEGIN; SELECT 1; COMMIT;', { transactional: false, role: 'migration' })).problem,
    ).toBe(undefined);
    expect((await readStatements('COMMIT;', { transactional: true, role: 'rollback' })).problem).toContain(
      'a rollback file already runs in one',
    );
  });

  it('names what cannot run in a transaction, COPY from the client, and syntax errors by line', async () => {
    expect((await readStatements('CREATE INDEX CONCURRENTLY i ON t (a);', transactional)).problem).toContain(
      '(CREATE INDEX CONCURRENTLY) cannot run inside a transaction',
    );
    expect((await readStatements('REINDEX INDEX CONCURRENTLY i;', transactional)).problem).toContain(
      'REINDEX CONCURRENTLY',
    );
    expect((await readStatements('VACUUM t;', transactional)).problem).toContain('(VACUUM)');
    expect(
      (await readStatements('COPY t (a) FROM stdin;', { transactional: false, role: 'migration' })).problem,
    ).toContain('COPY … FROM STDIN');
    expect((await readStatements("COPY t FROM '/srv/t.csv';", transactional)).problem).toBeUndefined();
    expect((await readStatements('SELECT 1;\n\nSELEC 2;', transactional)).problem).toMatch(
      /^line 3: syntax error at or near "SELEC"/,
    );
    expect(await readStatements('-- only a comment\n', transactional)).toEqual({ statements: [] });
  });

  it("reads 20k statements under a 40-dash ruler comment (the old splitter's exponential case)", async () => {
    const lines = ['-- ' + '-'.repeat(40)];
    for (let i = 0; i < 20_000; i++) lines.push(`INSERT INTO t VALUES (${i}, 'v${i}');`);
    const parsed = await readStatements(lines.join('\n'), transactional);
    expect(parsed.problem).toBeUndefined();
    expect('statements' in parsed && parsed.statements.at(-1)).toEqual({
      sql: "INSERT INTO t VALUES (19999, 'v19999')",
      line: 20_001,
    });
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
    irreversible: false,
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

describe("redactLiterals (PostgreSQL's lexer)", () => {
  it('keeps the shape of a query and none of its literals or comments', async () => {
    expect(
      await redactLiterals(
        "SELECT * FROM users WHERE email = 'a@b.c' AND id = 42 AND body = $q$secret$q$ AND t1.x = $1",
      ),
    ).toBe('SELECT * FROM users WHERE email = ? AND id = ? AND body = ? AND t1.x = $1');
    expect(
      await redactLiterals("UPDATE u SET pw = E'it\\'s s3cret' /* token abc */, n = 1.5e3 -- key xyz", 200),
    ).toBe('UPDATE u SET pw = ? , n = ?');
  });
  it('redacts the rest of a text the server cut inside a string', async () => {
    const cut = "INSERT INTO tokens VALUES ('ok', 'sk_live_abcdefgh";
    const shown = await redactLiterals(cut, 200);
    expect(shown).toBe('INSERT INTO tokens VALUES (?, ?');
    expect(shown).not.toMatch(/sk_live|abcdefgh/);
    expect(await redactLiterals('SELECT $x$ unterminated secret', 200)).not.toMatch(/secret/);
  });
});
