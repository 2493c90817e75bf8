/**
 * The direct PostgreSQL check of the runbook: can we connect and run `SELECT 1`, how many
 * connections are in each state, how close to max_connections, and how large the database is.
 */
export interface DatabaseHealth {
  ok: boolean;
  latencyMs: number;
  failure?: string;
  connectionsByState?: Record<string, number>;
  maxConnections?: number;
  sizeBytes?: number;
  warnings: string[];
}

/** The runbook treats more than 80% of max_connections in use as an incident in the making. */
const CONNECTION_WARN_RATIO = 0.8;

export async function checkDatabase(databaseUrl: string, timeoutMs: number): Promise<DatabaseHealth> {
  // Loaded on demand: most health checks never touch the database, and pg adds start-up time.
  const { default: pg } = await import('pg');
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: 'runbook-actions/health',
  });
  // A server that drops the connection later must not crash the process with an unhandled 'error'.
  client.on('error', () => undefined);
  const result: DatabaseHealth = { ok: false, latencyMs: 0, warnings: [] };
  try {
    await client.connect();
    await client.query('SELECT 1');
    result.latencyMs = elapsed();
    const states = await client.query<{ state: string | null; count: string }>(
      'SELECT state, count(*) AS count FROM pg_stat_activity WHERE datname = current_database() GROUP BY state',
    );
    result.connectionsByState = Object.fromEntries(
      states.rows.map((r) => [r.state ?? 'background', Number(r.count)]),
    );
    const facts = await client.query<{ max: string; size: string; total: string }>(
      `SELECT current_setting('max_connections') AS max, pg_database_size(current_database()) AS size,
              (SELECT count(*) FROM pg_stat_activity) AS total`,
    );
    const row = facts.rows[0];
    if (row) {
      result.maxConnections = Number(row.max);
      result.sizeBytes = Number(row.size);
      const used = Number(row.total);
      if (used > result.maxConnections * CONNECTION_WARN_RATIO) {
        result.warnings.push(
          `${used} of max_connections ${result.maxConnections} in use (over 80%): look for idle-in-transaction sessions and long queries`,
        );
      }
    }
    result.ok = true;
  } catch (error) {
    result.latencyMs = elapsed();
    const code = (error as { code?: string }).code;
    result.failure = `database check failed: ${error instanceof Error ? error.message : String(error)}${code ? ` [${code}]` : ''}`;
  } finally {
    await client.end().catch(() => undefined);
  }
  return result;
}
