/**
 * Before a restore replaces a live database: the other sessions in a transaction there (an idle one
 * holding a row lock blocks the restore's DROP for ever) are waited for up to `lock-wait`, named
 * (pid, user, state, age), then refused — or terminated when asked. The restore itself then runs with
 * `lock_timeout`, so no lock taken later can hold it for ever either.
 */
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import { sleepUnlessAborted } from '../retry/backoff.js';
import type { DatabaseSession } from './session.js';
import { redactLiterals } from './sql-parser.js';

export interface Blocker {
  pid: number;
  user: string;
  state: string;
  ageS: number;
  query: string;
}

export interface BlockerPolicy {
  waitMs: number;
  terminate: boolean;
}

export async function openTransactions(session: DatabaseSession): Promise<Blocker[]> {
  const { rows } = await session.client.query<{
    pid: number;
    user: string;
    state: string;
    age_s: number;
    query: string;
  }>(
    `SELECT pid, usename AS user, coalesce(state, '') AS state,
            round(extract(epoch FROM now() - xact_start))::int AS age_s, query
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
      ORDER BY xact_start`,
  );
  // The query's literals may be anybody's data (a password being set, a token): only its shape is named.
  return Promise.all(
    rows.map(async (r) => ({
      pid: r.pid,
      user: r.user,
      state: r.state,
      ageS: r.age_s,
      query: await redactLiterals(r.query),
    })),
  );
}

export function describeBlockers(blockers: Blocker[]): string {
  return blockers
    .slice(0, 5)
    .map(
      (b) =>
        `pid ${b.pid} (${b.user}, ${b.state}, in a transaction for ${b.ageS} s: ${JSON.stringify(b.query)})`,
    )
    .join('; ')
    .concat(blockers.length > 5 ? `; and ${blockers.length - 5} more` : '');
}

/** Waits for the other open transactions to end, then refuses or terminates them. Changes nothing else. */
export async function clearBlockers(
  session: DatabaseSession,
  database: string,
  policy: BlockerPolicy,
  log: Log,
  signal?: AbortSignal,
): Promise<void> {
  const until = Date.now() + policy.waitMs;
  let blockers = await openTransactions(session);
  if (blockers.length === 0) return;
  log.warn(
    `${database}: waiting up to ${Math.round(policy.waitMs / 1000)} s (lock-wait) for ${blockers.length} open transaction(s) to end: ${describeBlockers(blockers)}`,
  );
  while (blockers.length > 0 && Date.now() < until) {
    await sleepUnlessAborted(Math.min(1000, Math.max(0, until - Date.now())), signal);
    if (signal?.aborted) throw signal.reason;
    blockers = await openTransactions(session);
  }
  if (blockers.length === 0) return;
  if (!policy.terminate)
    throw new OperationError(
      `Refused to restore over ${database}: ${blockers.length} other session(s) still hold a transaction open after ${Math.round(policy.waitMs / 1000)} s (lock-wait) — ${describeBlockers(blockers)}. Nothing was changed.`,
      'stop what holds them (the app: maintenance-on or ops stop), or set terminate-blockers: true to end those sessions, then run again.',
    );
  for (const b of blockers) {
    await session.client.query('SELECT pg_terminate_backend($1)', [b.pid]);
    log.warn(`${database}: terminated pid ${b.pid} (${b.user}, ${b.state}) — terminate-blockers: true`);
  }
}
