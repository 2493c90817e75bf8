/** Outputs and the job summary, both redacted: the runner masks log lines, not these files. */
import * as core from '@actions/core';
import { SUMMARY_LIMIT, truncate } from '../report/markdown.js';
import { redact } from './redaction.js';
import type { RunResult } from '../result.js';

export type OutputValue = string | number | boolean | undefined;

/** Sets each output; undefined values are written as '' so downstream steps see every name. */
export function setOutputs(outputs: Record<string, OutputValue>): void {
  for (const [name, value] of Object.entries(outputs)) {
    core.setOutput(name, redact(value === undefined ? '' : String(value)));
  }
}

export async function writeSummary(markdown: string): Promise<void> {
  // Outside a runner (a local try-out) there is no summary file; that is not a failure.
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  await core.summary.addRaw(truncate(redact(markdown), SUMMARY_LIMIT), true).write();
}

/** A run's outputs and summary written, then its failure thrown (runAction reports it). */
export async function reportResult(result: RunResult): Promise<void> {
  setOutputs(result.outputs);
  await writeSummary(result.summary);
  if (result.failure) throw result.failure;
}
