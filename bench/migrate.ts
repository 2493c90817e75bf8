/**
 * Applying 200 small migrations: action-db-migrate's committed bundle (advisory lock, tracking table,
 * a transaction and timeouts per migration, node start included) against the runbook's way, `psql -f`
 * of each file in turn (with ON_ERROR_STOP, to be fair to it), each into a fresh database, in this
 * one run. Goal: ratio ≤ 1.5.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runActionBundle } from '../sandbox/index.js';
import { startDatabaseHost } from '../sandbox/database-host.js';

const COUNT = Number(process.env.BENCH_MIGRATIONS ?? 200);
const GOAL = 1.5;

const db = await startDatabaseHost();
try {
  const dir = join(db.droplet.root, 'migrations');
  mkdirSync(dir);
  const files: string[] = [];
  for (let n = 1; n <= COUNT; n++) {
    const file = `${String(n).padStart(3, '0')}_table_${n}.sql`;
    writeFileSync(
      join(dir, file),
      `CREATE TABLE t_${n} (id serial PRIMARY KEY, name text NOT NULL, created_at timestamptz DEFAULT now());\nCREATE INDEX t_${n}_name ON t_${n} (name);\nINSERT INTO t_${n} (name) VALUES ('row ${n}');\n`,
    );
    files.push(join(dir, file));
  }
  const runbookDb = await db.freshDatabase();
  const oursDb = await db.freshDatabase();
  const started = performance.now();
  for (const file of files) {
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file, runbookDb.url], {
      stdio: 'ignore',
    });
  }
  const psqlMs = performance.now() - started;
  const run = await runActionBundle(
    'action-db-migrate',
    { 'database-url': oursDb.url, 'migrations-dir': dir, 'require-backup': 'false' },
    { secrets: [db.postgres.password], timeoutMs: 300_000 },
  );
  if (run.exitCode !== 0) throw new Error(run.errors.join('\n'));
  const applied = (JSON.parse(run.outputs.applied ?? '[]') as string[]).length;
  const ratio = run.durationMs / psqlMs;
  console.log(
    `migrations benchmark — ${COUNT} small migrations (CREATE TABLE, CREATE INDEX, INSERT), each into a fresh database`,
  );
  console.log(`psql -f of each file in turn: ${(psqlMs / 1000).toFixed(2)} s`);
  console.log(
    `action-db-migrate (lock, tracking, one transaction each, node start): ${(run.durationMs / 1000).toFixed(2)} s, ${applied} applied`,
  );
  console.log(`ratio ${ratio.toFixed(2)}  goal ≤ ${GOAL}  ${ratio <= GOAL ? 'met' : 'NOT met'}`);
} finally {
  await db.droplet.stop();
}
