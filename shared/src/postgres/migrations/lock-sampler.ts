/**
 * What one backend locks while a migration runs, seen from a second session: `pg_locks` read every
 * SAMPLE_MS for that pid's granted relation locks on tables, each (table, mode) kept with when it was
 * first and last seen. A lock held for less than one interval may be missed — the rehearsal gates on
 * locks held for seconds, which it cannot miss.
 */
import { sleepUnlessAborted } from '../../retry/backoff.js';
import type { DatabaseSession } from '../session.js';

export const SAMPLE_MS = 20;

/** PostgreSQL's table lock modes, weakest first (each conflicts with more than the one before). */
export const LOCK_MODES = [
  'AccessShareLock',
  'RowShareLock',
  'RowExclusiveLock',
  'ShareUpdateExclusiveLock',
  'ShareLock',
  'ShareRowExclusiveLock',
  'ExclusiveLock',
  'AccessExclusiveLock',
] as const;
export type LockMode = (typeof LOCK_MODES)[number];

export function lockRank(mode: string): number {
  return LOCK_MODES.indexOf(mode as LockMode);
}

export interface HeldLock {
  /** `schema.table`. */
  table: string;
  /** The strongest mode it held on that table. */
  mode: LockMode;
  /** How long that mode was seen held (first to last sample, at least one interval). */
  heldMs: number;
}

export class LockSampler {
  private readonly seen = new Map<string, { first: number; last: number }>();
  private running?: Promise<void>;
  private stopped = false;
  private wake?: AbortController;
  /** Why sampling stopped early (the observer's connection lost): the locks seen until then stand. */
  failure?: string;

  constructor(
    private readonly observer: DatabaseSession,
    private readonly pid: number,
    /** Tables left out (the tracking table), `schema.table`. */
    private readonly ignore: Set<string>,
  ) {}

  start(): void {
    this.stopped = false;
    this.seen.clear();
    this.wake = new AbortController();
    this.running = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      await this.sample();
    } catch (error) {
      this.failure = error instanceof Error ? error.message : String(error);
    }
  }

  // The first look waits one interval: a migration done sooner is seen by the look before its
  // COMMIT, and 200 short files then cost no observer query each on a busy server.
  private async sample(): Promise<void> {
    for (;;) {
      await sleepUnlessAborted(SAMPLE_MS, this.wake?.signal);
      if (this.stopped) return;
      await this.look(this.observer);
    }
  }

  /**
   * One look at the backend's locks, from `session` — the observer, or the migration's own session
   * just before COMMIT, when a transaction still holds every lock it took (none is missed then).
   */
  async look(session: DatabaseSession): Promise<void> {
    const now = performance.now();
    const result = await session.client.query<{ rel: string; mode: string }>(
      `SELECT n.nspname || '.' || c.relname AS rel, l.mode
         FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE l.pid = $1 AND l.granted AND l.locktype = 'relation' AND c.relkind IN ('r', 'p', 'm')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
      [this.pid],
    );
    for (const row of result.rows) {
      if (this.ignore.has(row.rel)) continue;
      const key = `${row.rel}\t${row.mode}`;
      const s = this.seen.get(key);
      if (s) s.last = now;
      else this.seen.set(key, { first: now, last: now });
    }
  }

  /** Stops sampling; the strongest lock held on each table, strongest first. */
  async stop(): Promise<HeldLock[]> {
    this.stopped = true;
    this.wake?.abort();
    await this.running;
    const strongest = new Map<string, HeldLock>();
    for (const [key, s] of this.seen) {
      const [table, mode] = key.split('\t') as [string, LockMode];
      const heldMs = Math.round(s.last - s.first + SAMPLE_MS);
      const had = strongest.get(table);
      if (!had || lockRank(mode) > lockRank(had.mode)) strongest.set(table, { table, mode, heldMs });
    }
    return [...strongest.values()].sort((a, b) => lockRank(b.mode) - lockRank(a.mode) || b.heldMs - a.heldMs);
  }
}
