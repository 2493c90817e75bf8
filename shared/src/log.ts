/**
 * What a core may do with the outside world's log. The action implements it with @actions/core,
 * the CLI and the drill with the console, tests with a recorder. Cores never import @actions/core.
 */
export interface Log {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  /** Runs fn inside a collapsible group (the runner) or an indented block (the console). */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /** Registers a value that must never be printed; call it the moment a secret is read. */
  mask(secret: string): void;
}

/** A Log that writes nothing: for callers that only want the result. */
export const silentLog: Log = {
  info: () => undefined,
  warn: () => undefined,
  debug: () => undefined,
  group: (_title, fn) => fn(),
  mask: () => undefined,
};
