/**
 * How work spreads over the fleet: a bounded pool for what only reads (connect, read state, logs,
 * diagnose), and canary-then-batches for what changes what serves (a switch, a restart, a rotation).
 */

/**
 * `fn` over every item, at most `limit` at a time (a pool: a slow host does not hold a whole batch
 * back); the settled results in item order.
 */
export async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await fn(items[index] as T, index) };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * A gate letting at most `limit` calls run at once, for the one costly part of a host's work (the
 * SSH handshake) when the rest of it is mostly waiting (a log window, a probe): every host waits
 * side by side, the handshakes take turns.
 */
export function gate(limit: number): <R>(fn: () => Promise<R>) => Promise<R> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <R>(fn: () => Promise<R>): Promise<R> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/** inParallel for steps that must all succeed: their values in item order, or the first failure thrown. */
export async function mapInParallel<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const settled = await inParallel(items, limit, fn);
  throwFirstRejection(settled);
  return settled.map((r) => (r as PromiseFulfilledResult<R>).value);
}

export function firstRejection(results: readonly PromiseSettledResult<unknown>[]): unknown {
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  return failed?.reason;
}

/** Throws the first failure of `results`, if any. */
export function throwFirstRejection(results: readonly PromiseSettledResult<unknown>[]): void {
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (failed) throw failed.reason;
}

export interface BatchPlan {
  /** Hosts changed and proven alone before any batch: 0 to skip. */
  canary: number;
  /** Hosts changed at once after the canary. */
  maxParallel: number;
}

/** The canary first (alone), then batches of max-parallel: each must prove healthy before the next. */
export function batchesOf<T>(items: readonly T[], plan: BatchPlan): T[][] {
  const canary = Math.min(Math.max(0, plan.canary), items.length);
  const batches: T[][] = canary > 0 ? [items.slice(0, canary)] : [];
  const size = Math.max(1, plan.maxParallel);
  for (let i = canary; i < items.length; i += size) batches.push(items.slice(i, i + size));
  return batches;
}

/** The plan said in words, for a deploy's or a rotation's plan. */
export function describeBatches(count: number, plan: BatchPlan): string {
  const canary = Math.min(plan.canary, count);
  const rest = count - canary;
  const batches = rest > 0 ? `batches of ${Math.min(plan.maxParallel, rest)}` : '';
  if (canary > 0 && rest > 0)
    return `${canary === 1 ? 'one canary host' : `${canary} canary hosts`} first, alone, then ${batches}`;
  if (canary > 0) return canary === 1 ? 'the one host alone' : `${canary} hosts at once`;
  return batches;
}
