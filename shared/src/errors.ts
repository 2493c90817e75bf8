/**
 * Two kinds of failure, kept apart so the message and exit status tell the user which happened
 * (the split github/codeql-action makes with ConfigurationError):
 * - ConfigurationError: an input is wrong. Names the input; nothing was touched on any target.
 * - OperationError: the procedure ran and something on the target failed. Says what to do next.
 * Anything else is a bug in this suite.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  constructor(
    /** The input (kebab-case, as in action.yml) that caused the error. */
    readonly input: string,
    message: string,
  ) {
    super(`Input '${input}': ${message}`);
  }
}

export class OperationError extends Error {
  override readonly name = 'OperationError';
  constructor(
    message: string,
    /** What the on-call engineer should do next. */
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The one-line text of any thrown value, for logs and annotations. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * For procedures that report what they did before failing: an OperationError becomes the report's
 * failure; anything else (a bug, a ConfigurationError) is thrown on.
 */
export function operationFailure(error: unknown): OperationError {
  if (error instanceof OperationError) return error;
  throw error;
}
