/**
 * PostgreSQL for the backup tests, the drill and the benchmarks: a droplet with the sample schema in
 * a template database, fresh copies of it on demand (one per test, so tests never see each other's
 * changes), and a second server standing in for the workflow's `postgres:<major>` scratch container.
 */
import pg from 'pg';
import { Droplet } from './droplet.js';
import { loadSampleData } from './sample-data.js';
import type { SandboxPostgres } from './postgres.js';

export interface DatabaseHost {
  droplet: Droplet;
  postgres: SandboxPostgres;
  /** A new database owned by the application's role, holding the sample data; its URL. */
  freshDatabase(): Promise<{ name: string; url: string }>;
  /** Superuser URL over TCP (password), for fixtures and as a scratch server. */
  superuser(database?: string): string;
  /** SQL as the superuser in a database. */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(database: string, text: string): Promise<T[]>;
}

let counter = 0;

export async function startDatabaseHost(options: { sshd?: boolean } = {}): Promise<DatabaseHost> {
  const droplet = await Droplet.start({ postgres: true, sshd: options.sshd ?? false });
  const postgres = droplet.postgres as SandboxPostgres;
  const superuser = (database = 'postgres') =>
    `postgresql://postgres:${encodeURIComponent(postgres.password)}@127.0.0.1:${postgres.port}/${database}`;
  const sql = async <T extends pg.QueryResultRow>(database: string, text: string): Promise<T[]> => {
    const client = new pg.Client({ connectionString: superuser(database) });
    await client.connect();
    try {
      return (await client.query<T>(text)).rows;
    } finally {
      await client.end();
    }
  };
  await loadSampleData(postgres.url, superuser('bunty'));
  await sql('postgres', 'CREATE DATABASE sample_template TEMPLATE bunty OWNER bunty');
  return {
    droplet,
    postgres,
    superuser,
    sql,
    async freshDatabase() {
      const name = `app_${process.pid}_${++counter}`;
      await sql('postgres', `CREATE DATABASE ${name} TEMPLATE sample_template OWNER bunty`);
      return {
        name,
        url: `postgresql://bunty:${encodeURIComponent(postgres.password)}@127.0.0.1:${postgres.port}/${name}`,
      };
    },
  };
}
