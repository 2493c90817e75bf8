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

/**
 * Refused for safety, nothing changed: another run holds the lock, a gate (a verified backup) is not
 * met. The CLI exits 3 for these, apart from failures (1) and bad input (2).
 */
export class SafetyRefusal extends OperationError {}

/** Whether an error, or one it was caused by, is a refusal for safety (an unconfirmed input is one too). */
export function isSafetyRefusal(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof SafetyRefusal) return true;
    if (e instanceof ConfigurationError && e.input === 'confirm') return true;
  }
  return false;
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
