/**
 * The one retry/backoff helper: exponential delay with a cap and full-range jitter, so that many
 * runners polling one recovering host do not fall into step.
 */
export interface BackoffPolicy {
  /** The first delay. */
  initialMs: number;
  /** Each delay after a failure is the previous one times this. */
  factor: number;
  /** No delay is longer than this. */
  maxMs: number;
  /** 0..1: the share of each delay that is randomised (0.2 → ±20%). */
  jitter: number;
}

/** Delay before retry number `failures` (1 = after the first failure). */
export function backoffDelay(
  policy: BackoffPolicy,
  failures: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, failures - 1);
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** exponent);
  const spread = base * policy.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sleeps, but wakes at once when `signal` aborts (the caller then checks it). */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return sleep(ms);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
