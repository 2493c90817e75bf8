/** The Log for the CLI and the drill: the console, with every registered secret redacted. */
import type { Log } from '../shared/src/log.js';
import { Redactor } from '../shared/src/redact/redactor.js';

export function consoleLog(
  redactor = new Redactor(),
  write: (line: string) => void = (line) => console.log(line),
): Log {
  let indent = '';
  const out = (prefix: string, message: string) => {
    for (const line of redactor.redact(message).split('\n')) write(`${indent}${prefix}${line}`);
  };
  return {
    info: (message) => out('', message),
    warn: (message) => out('warning: ', message),
    debug: (message) => {
      if (process.env.RUNBOOK_DEBUG) out('debug: ', message);
    },
    group: async (title, fn) => {
      out('▶ ', title);
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
