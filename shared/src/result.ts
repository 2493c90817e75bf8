/**
 * The types every procedure shares, whatever its domain: who runs it (the run context, the lease
 * holder) and what one run gives its caller — the action's entry or a CLI command: outputs by the
 * action's output names, a Markdown summary, and the failure if it failed. The caller only writes them.
 */

/** Who holds a host's deploy lease, e.g. `deploy run 123 attempt 1` by an actor. */
export interface Holder {
  description: string;
  actor?: string;
  runUrl?: string;
}

/** What the caller knows of the run: the runner's GITHUB_* values, or the CLI's user and host. */
export interface RunContext {
  holder: Holder;
  sha?: string;
}

export type Outputs = Record<string, string | number | boolean | undefined>;

export interface RunResult {
  /** The mode or operation that ran (for a message), when the action has several. */
  mode?: string;
  outputs: Outputs;
  summary: string;
  failure?: Error;
}

/** A run of an action with several modes: which one ran is always said. */
export type ModeResult = RunResult & { mode: string };
