/**
 * What one run of a procedure gives its caller — the action's entry or a CLI command: outputs by the
 * action's output names, a Markdown summary, and the failure if it failed. The caller only writes them.
 */
export type Outputs = Record<string, string | number | boolean | undefined>;

export interface RunResult {
  /** The mode or operation that ran (for a message), when the action has several. */
  mode?: string;
  outputs: Outputs;
  summary: string;
  failure?: Error;
}
