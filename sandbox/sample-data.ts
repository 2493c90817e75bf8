/**
 * A schema with the shapes real applications have — not only `users` — for the backup tests and
 * the drill: two schemas, uuids, jsonb, numeric, bytea, timestamps, an identity column and a sequence,
 * a partitioned table, a foreign key, a view, an index, an extension, a table whose name needs quoting,
 * text with quotes, backslashes, tabs, newlines and non-ASCII. Created as the application's role,
 * as on the droplet.
 */
import pg from 'pg';

export const SAMPLE_SCHEMA = `
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE SCHEMA ledger;
CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL UNIQUE,
  profile jsonb NOT NULL DEFAULT '{}',
  balance numeric(14,2) NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ledger.entries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id),
  amount numeric(14,2) NOT NULL,
  memo text,
  raw bytea,
  booked_on date NOT NULL
);
CREATE INDEX entries_user ON ledger.entries (user_id, booked_on);
CREATE TABLE events (id bigserial, at timestamptz NOT NULL, kind text NOT NULL, body jsonb) PARTITION BY RANGE (at);
CREATE TABLE events_2026_10 PARTITION OF events FOR VALUES FROM ('2026-10-01') TO ('2026-11-01');
CREATE TABLE events_2026_11 PARTITION OF events FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');
CREATE TABLE "Odd ""Name"" Table" ("Key" int PRIMARY KEY, note text);
CREATE TABLE empty_table (id int);
CREATE VIEW user_balances AS SELECT u.email, sum(e.amount) AS total FROM users u JOIN ledger.entries e ON e.user_id = u.id GROUP BY u.email;
`;

export const SAMPLE_ROWS = `
INSERT INTO users (email, profile, balance, created_at)
  SELECT 'user' || i || '@example.com', jsonb_build_object('name', 'Name ' || i, 'tags', jsonb_build_array('a', i)),
         (i * 13.37)::numeric(14,2), '2026-01-01'::timestamptz + i * interval '1 hour'
  FROM generate_series(1, 500) i;
INSERT INTO ledger.entries (user_id, amount, memo, raw, booked_on)
  SELECT u.id, (random() * 1000)::numeric(14,2), E'memo\\twith ''quote'', back\\\\slash,\\nnewline — ünïcode ' || g,
         gen_random_bytes(16), date '2026-11-01' + (g % 28)
  FROM users u, generate_series(1, 3) g;
INSERT INTO events (at, kind, body)
  SELECT '2026-10-15'::timestamptz + i * interval '10 minutes', 'kind' || (i % 7), jsonb_build_object('i', i)
  FROM generate_series(1, 4000) i;
INSERT INTO "Odd ""Name"" Table" VALUES (1, 'one'), (2, NULL);
`;

/** Creates the sample schema and rows in the database at `url`; `superuserUrl` (the same database, as the superuser) adds the extension. */
export async function loadSampleData(url: string, superuserUrl?: string): Promise<void> {
  if (superuserUrl) {
    const admin = new pg.Client({
      connectionString: superuserUrl,
    });
    await admin.connect();
    try {
      await admin.query('CREATE EXTENSION IF NOT EXISTS pgcrypto');
    } finally {
      await admin.end();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(SAMPLE_SCHEMA);
    await client.query(SAMPLE_ROWS);
  } finally {
    await client.end();
  }
}

/** Every table's rows as sorted text: to compare two databases by content, not only by counts. */
export async function tableContents(url: string): Promise<Record<string, string[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
        ORDER BY 1, 2`,
    );
    const contents: Record<string, string[]> = {};
    for (const t of tables.rows) {
      const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;
      const rows = await client.query<{ r: string }>(
        `SELECT t::text AS r FROM ONLY ${ident(t.schema)}.${ident(t.name)} t`,
      );
      contents[`${t.schema}.${t.name}`] = rows.rows.map((r) => r.r).sort();
    }
    return contents;
  } finally {
    await client.end();
  }
}
