/**
 * The runbook's "Optimizing Database" and its P1/P2 database checks as tasks, each returning a table
 * for the job summary and figures for the report. Only `analyze`, `vacuum-analyze`, `reindex` and
 * `long-queries` with `terminate` change anything; termination never touches our own backend, a
 * system process, a replication or an autovacuum worker — only client backends of this database.
 */
import type { Log } from '../../log.js';
import { quoteIdent } from '../database-url.js';
import type { DatabaseSession } from '../session.js';
import { redactLiterals as redactQuery } from '../sql-parser.js';

export const TASKS = [
  'analyze',
  'vacuum-analyze',
  'reindex',
  'connections',
  'long-queries',
  'locks',
  'size',
  'slow-queries',
  'bloat',
] as const;
export type Task = (typeof TASKS)[number];

/** What each task measured, typed: the report's figures and what diagnose judges. */
export interface TaskFigures {
  analyze: Record<string, never>;
  'vacuum-analyze': Record<string, never>;
  reindex: { tables: number };
  connections: { total: number; max: number; byState: Record<string, number> };
  'long-queries': { count: number; terminated: number[] };
  locks: { blocked: { pid: number; blockers: number[] }[] };
  size: { bytes: number; largest: Record<string, number> };
  'slow-queries':
    { installed: false } | { installed: true; top: { query: string; calls: number; meanMs: number }[] };
  bloat: { tables: Record<string, { live: number; dead: number }> };
}

interface TaskOutput<T extends Task> {
  /** One line for the log and the summary heading. */
  headline: string;
  header: string[];
  rows: string[][];
  figures: TaskFigures[T];
}

/** One task's result: its figures typed by its name. */
export type TaskResult = { [T in Task]: TaskOutput<T> & { task: T; durationMs: number } }[Task];

export interface MaintenanceOptions {
  longQueryAfterMs: number;
  terminate: boolean;
}

const ms = (n: number) => `${(n / 1000).toFixed(1)} s`;

async function userTables(session: DatabaseSession): Promise<{ schema: string; name: string }[]> {
  return session.dataTables();
}

type Runner<T extends Task> = (
  session: DatabaseSession,
  options: MaintenanceOptions,
  log: Log,
) => Promise<TaskOutput<T>>;

const RUNNERS: { [T in Task]: Runner<T> } = {
  async analyze(session) {
    await session.client.query('ANALYZE');
    return { headline: 'ANALYZE of every table', header: [], rows: [], figures: {} };
  },
  async 'vacuum-analyze'(session) {
    await session.client.query('VACUUM (ANALYZE)');
    return { headline: 'VACUUM (ANALYZE) of every table', header: [], rows: [], figures: {} };
  },
  async reindex(session, _options, log) {
    const rows: string[][] = [];
    for (const t of await userTables(session)) {
      const started = performance.now();
      // CONCURRENTLY: writes keep flowing while each table's indexes are rebuilt, one table at a time.
      await session.client.query(`REINDEX TABLE CONCURRENTLY ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
      const took = Math.round(performance.now() - started);
      rows.push([`${t.schema}.${t.name}`, `${took} ms`]);
      log.info(`reindexed ${t.schema}.${t.name} concurrently in ${took} ms`);
    }
    return {
      headline: `REINDEX CONCURRENTLY, ${rows.length} tables`,
      header: ['Table', 'Time'],
      rows,
      figures: { tables: rows.length },
    };
  },
  async connections(session) {
    const states = await session.client.query<{ state: string; n: string }>(
      'SELECT coalesce(state, backend_type) AS state, count(*) AS n FROM pg_stat_activity GROUP BY 1 ORDER BY 2 DESC',
    );
    const max = Number(
      (await session.client.query<{ m: string }>("SELECT current_setting('max_connections') AS m")).rows[0]
        ?.m,
    );
    const total = states.rows.reduce((sum, r) => sum + Number(r.n), 0);
    const byState = Object.fromEntries(states.rows.map((r) => [r.state, Number(r.n)]));
    const warn =
      total > max * 0.8 ? ' — over 80%: look for idle-in-transaction sessions and long queries' : '';
    return {
      headline: `${total} of max_connections ${max} in use${warn}`,
      header: ['State', 'Connections'],
      rows: states.rows.map((r) => [r.state, r.n]),
      figures: { total, max, byState },
    };
  },
  async 'long-queries'(session, options, log) {
    const found = await session.client.query<{
      pid: number;
      usename: string;
      state: string;
      secs: number;
      query: string;
    }>(
      `SELECT pid, coalesce(usename, '') AS usename, state, extract(epoch FROM now() - coalesce(xact_start, query_start))::float8 AS secs, query
         FROM pg_stat_activity
        WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
          AND state IS DISTINCT FROM 'idle' AND now() - coalesce(xact_start, query_start) > $1 * interval '1 millisecond'
        ORDER BY secs DESC`,
      [options.longQueryAfterMs],
    );
    const rows: string[][] = [];
    const terminated: number[] = [];
    for (const q of found.rows) {
      let action = 'reported';
      if (options.terminate) {
        const done = await session.client.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [
          q.pid,
        ]);
        action = done.rows[0]?.ok ? 'terminated' : 'could not terminate';
        if (done.rows[0]?.ok) terminated.push(q.pid);
        log.info(
          `${action} pid ${q.pid} (user ${q.usename}, ${ms(q.secs * 1000)}): ${await redactQuery(q.query)}`,
        );
      }
      rows.push([String(q.pid), q.usename, q.state, ms(q.secs * 1000), await redactQuery(q.query), action]);
    }
    return {
      headline: `${found.rows.length} quer${found.rows.length === 1 ? 'y' : 'ies'} running longer than ${ms(options.longQueryAfterMs)}${options.terminate ? `, ${terminated.length} terminated` : ''}`,
      header: ['pid', 'User', 'State', 'Running', 'Query (literals redacted)', 'Action'],
      rows,
      figures: { count: found.rows.length, terminated },
    };
  },
  async locks(session) {
    const blocked = await session.client.query<{
      pid: number;
      blockers: number[];
      secs: number;
      query: string;
    }>(
      `SELECT pid, pg_blocking_pids(pid) AS blockers, extract(epoch FROM now() - query_start)::float8 AS secs, query
         FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0 ORDER BY secs DESC`,
    );
    return {
      headline: `${blocked.rows.length} session(s) waiting on a lock`,
      header: ['Waiting pid', 'Blocked by', 'Waiting', 'Query (literals redacted)'],
      rows: await Promise.all(
        blocked.rows.map(async (b) => [
          String(b.pid),
          b.blockers.join(', '),
          ms(b.secs * 1000),
          await redactQuery(b.query),
        ]),
      ),
      figures: { blocked: blocked.rows.map((b) => ({ pid: b.pid, blockers: b.blockers })) },
    };
  },
  async size(session) {
    const db = Number(
      (await session.client.query<{ s: string }>('SELECT pg_database_size(current_database()) AS s')).rows[0]
        ?.s,
    );
    const top = await session.client.query<{ t: string; s: string }>(
      `SELECT n.nspname || '.' || c.relname AS t, pg_total_relation_size(c.oid) AS s
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
        ORDER BY 2 DESC LIMIT 10`,
    );
    const mb = (n: number) => `${(n / 1_048_576).toFixed(1)} MB`;
    return {
      headline: `database ${mb(db)}`,
      header: ['Table', 'Size (with indexes and TOAST)'],
      rows: top.rows.map((r) => [r.t, mb(Number(r.s))]),
      figures: { bytes: db, largest: Object.fromEntries(top.rows.map((r) => [r.t, Number(r.s)])) },
    };
  },
  async 'slow-queries'(session) {
    const installed = (
      await session.client.query<{ ok: boolean }>(
        "SELECT to_regclass('pg_stat_statements') IS NOT NULL AS ok",
      )
    ).rows[0]?.ok;
    if (!installed)
      return {
        headline:
          'pg_stat_statements is not installed in this database: not checked (CREATE EXTENSION pg_stat_statements, with shared_preload_libraries)',
        header: [],
        rows: [],
        figures: { installed: false },
      };
    const top = await session.client.query<{ query: string; calls: string; mean: number; total: number }>(
      'SELECT query, calls, mean_exec_time AS mean, total_exec_time AS total FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 10',
    );
    const shapes = await Promise.all(top.rows.map((r) => redactQuery(r.query)));
    return {
      headline: `top ${top.rows.length} statements by mean time`,
      header: ['Mean', 'Calls', 'Total', 'Query (literals redacted)'],
      rows: top.rows.map((r, i) => [
        `${r.mean.toFixed(1)} ms`,
        r.calls,
        `${(r.total / 1000).toFixed(1)} s`,
        shapes[i] as string,
      ]),
      figures: {
        installed: true,
        top: top.rows.map((r, i) => ({ query: shapes[i] as string, calls: Number(r.calls), meanMs: r.mean })),
      },
    };
  },
  async bloat(session) {
    const stats = await session.client.query<{
      t: string;
      live: string;
      dead: string;
      vac: Date | null;
      an: Date | null;
    }>(
      `SELECT schemaname || '.' || relname AS t, n_live_tup AS live, n_dead_tup AS dead,
              greatest(last_vacuum, last_autovacuum) AS vac, greatest(last_analyze, last_autoanalyze) AS an
         FROM pg_stat_user_tables ORDER BY n_dead_tup DESC LIMIT 20`,
    );
    const when = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') : 'never');
    return {
      headline: `dead tuples in ${stats.rows.filter((r) => Number(r.dead) > 0).length} table(s)`,
      header: ['Table', 'Live', 'Dead (est.)', 'Dead %', 'Last vacuum', 'Last analyze'],
      rows: stats.rows.map((r) => {
        const live = Number(r.live);
        const dead = Number(r.dead);
        return [
          r.t,
          String(live),
          String(dead),
          live + dead ? `${((dead / (live + dead)) * 100).toFixed(1)}%` : '0%',
          when(r.vac),
          when(r.an),
        ];
      }),
      figures: {
        tables: Object.fromEntries(
          stats.rows.map((r) => [r.t, { live: Number(r.live), dead: Number(r.dead) }]),
        ),
      },
    };
  },
};

export async function runTask(
  task: Task,
  session: DatabaseSession,
  options: MaintenanceOptions,
  log: Log,
): Promise<TaskResult> {
  const started = performance.now();
  const result: TaskOutput<Task> = await (RUNNERS[task] as Runner<Task>)(session, options, log);
  const durationMs = Math.round(performance.now() - started);
  log.info(`${task}: ${result.headline} (${durationMs} ms)`);
  // The runner of `task` made `result`: its figures are that task's (the cast ties the two together).
  return { task, ...result, durationMs } as TaskResult;
}
