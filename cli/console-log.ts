/**
 * The CLI's Log: step lines on stderr (stdout is for the summary or --json), every registered secret
 * redacted. At a terminal each line carries the time since the command started; otherwise only
 * warnings are written, unless --verbose asks for the steps too.
 */
import type { Log } from '../shared/src/log.js';
import { Redactor } from '../shared/src/redact/redactor.js';

export interface ConsoleOptions {
  /** Write step lines, not only warnings. */
  steps: boolean;
  /** Prefix each line with the seconds since the start. */
  elapsed: boolean;
  write?: (line: string) => void;
}

export function consoleLog(redactor: Redactor, options: ConsoleOptions): Log {
  const started = performance.now();
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  let indent = '';
  const out = (prefix: string, message: string) => {
    const stamp = options.elapsed
      ? `[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] `
      : '';
    for (const line of redactor.redact(message).split('\n')) write(`${stamp}${indent}${prefix}${line}`);
  };
  return {
    info: (message) => {
      if (options.steps) out('', message);
    },
    warn: (message) => out('warning: ', message),
    debug: (message) => {
      if (process.env.RUNBOOK_DEBUG) out('debug: ', message);
    },
    group: async (title, fn) => {
      if (options.steps) out('▶ ', title);
      indent += '  ';
      try {
        return await fn();
      } finally {
        indent = indent.slice(2);
      }
    },
    mask: (secret) => void redactor.add(secret),
  };
}
