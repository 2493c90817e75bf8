/**
 * The wrapper every entry point runs in: it turns any error into one `::error` annotation saying
 * what failed and what to do next, and exit code 1. Configuration errors name the input and say
 * nothing was changed; operation errors carry a hint; anything else is reported as a bug.
 */
import * as core from '@actions/core';
import { ConfigurationError, OperationError, errorText } from '../errors.js';
import { redact } from './redaction.js';

export async function runAction(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    core.setFailed(redact(failureMessage(error)));
  }
}

export function failureMessage(error: unknown): string {
  if (error instanceof ConfigurationError) {
    return `${error.message} Nothing was changed on any target. Fix the input in the workflow's \`with:\` and run again.`;
  }
  if (error instanceof OperationError) return `${error.message} What to do: ${error.hint}`;
  const stack = error instanceof Error && error.stack ? `\n${error.stack}` : '';
  return `Unexpected error (a bug in runbook-actions, please report it with this log): ${errorText(error)}${stack}`;
}
