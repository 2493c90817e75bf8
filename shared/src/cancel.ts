/**
 * Cancellation. When a workflow run is cancelled the runner sends SIGINT, then SIGTERM 7.5 s later,
 * then kills the process; an engineer's Ctrl-C is the same SIGINT. A deploy that simply died would
 * leave a switched host unverified and its lock held. Instead the signal aborts the procedure at its
 * next step, and its normal failure path runs: hosts that switched go back, releases never switched
 * to are marked abandoned, leases are released. Restoring is never itself cancelled.
 */
import { OperationError } from './errors.js';

export class Cancelled extends OperationError {
  constructor(reason: string) {
    super(
      `cancelled (${reason})`,
      'run it again when ready; this run put back what it had changed, as the lines above say.',
    );
  }
}

/** An AbortSignal that fires on the first SIGINT or SIGTERM. */
export function cancelOnSignals(signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): AbortSignal {
  const controller = new AbortController();
  for (const signal of signals) {
    process.once(signal, () => {
      if (!controller.signal.aborted) controller.abort(new Cancelled(signal));
    });
  }
  return controller.signal;
}

/** Throws the cancellation, if any, at a step boundary. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted)
    throw signal.reason instanceof Error ? signal.reason : new Cancelled(String(signal.reason));
}

/** The same dependencies without the cancellation: for the way back, which must run to its end. */
export function uncancellable<T extends { signal?: AbortSignal }>(deps: T): T {
  const copy = { ...deps };
  delete copy.signal;
  return copy;
}
