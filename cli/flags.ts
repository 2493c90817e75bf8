/**
 * Command-line flags as an input source: `--max-attempts 3` or `--max-attempts=3` is the action
 * input `max-attempts`, and the defaults are the action's own, read from its action.yml, so the
 * CLI and the action can never disagree.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ConfigurationError } from '../shared/src/errors.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export function actionDefaults(action: string): Record<string, string> {
  const spec = parse(readFileSync(join(repoRoot, action, 'action.yml'), 'utf8')) as {
    inputs?: Record<string, { default?: string }>;
  };
  return Object.fromEntries(
    Object.entries(spec.inputs ?? {}).map(([name, input]) => [name, input.default ?? '']),
  );
}

/** Flags, validated against the action's inputs; a repeated flag adds a line (several URLs). */
export function parseFlags(argv: string[], defaults: Record<string, string>): Record<string, string> {
  const given: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new ConfigurationError(arg, 'is not a flag; expected --name value or --name=value.');
    const name = match[1] as string;
    if (!(name in defaults)) {
      throw new ConfigurationError(
        name,
        `is not an input of this command; known: ${Object.keys(defaults).join(', ')}.`,
      );
    }
    let value = match[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw new ConfigurationError(name, 'needs a value.');
      i++;
    }
    given[name] = name in given ? `${given[name]}\n${value}` : value;
  }
  return { ...defaults, ...given };
}
