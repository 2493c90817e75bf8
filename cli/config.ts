/**
 * `runbook.yml` (or `.yaml`, `.json`): named environments, so hosts and paths are not typed again at
 * 3 a.m. Each environment maps action input names to values (a list is one value a line); a key that
 * names a command holds inputs for that command only. Secrets never live here: a secret input may
 * only be an `@path` to a file that holds it.
 *
 *   environments:
 *     production:
 *       hosts: [deploy@10.0.0.1, deploy@10.0.0.2]
 *       app-name: bunty-backend
 *       ssh-key: '@~/.ssh/bunty_deploy'
 *       health: { url: https://api.bunty.example/health }
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigurationError } from '../shared/src/errors.js';

export type Settings = Record<string, string>;

export interface EnvironmentFile {
  path: string;
  environments: Record<string, { common: Settings; byCommand: Record<string, Settings> }>;
}

const CANDIDATES = ['runbook.yml', 'runbook.yaml', 'runbook.json'];

function text(file: string, key: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((v) => ['string', 'number'].includes(typeof v)))
    return value.map(String).join('\n');
  throw new ConfigurationError(
    'env',
    `${file}: ${key} must be a string, number, boolean or list of strings.`,
  );
}

/** Reads the file given by --config, else the first of runbook.yml/.yaml/.json here; undefined when none. */
export function loadEnvironmentFile(
  given: string | undefined,
  isInput: (name: string) => boolean,
  isCommand: (name: string) => boolean,
): EnvironmentFile | undefined {
  const path = given ? resolve(given) : CANDIDATES.map((c) => resolve(c)).find((c) => existsSync(c));
  if (!path) return undefined;
  let doc: unknown;
  try {
    const raw = readFileSync(path, 'utf8');
    doc = path.endsWith('.json') ? JSON.parse(raw) : parse(raw);
  } catch (error) {
    throw new ConfigurationError(
      'config',
      `cannot read ${path}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}.`,
    );
  }
  const envs = (doc as { environments?: unknown } | null)?.environments;
  if (typeof envs !== 'object' || envs === null || Array.isArray(envs))
    throw new ConfigurationError('config', `${path} has no \`environments:\` map of named environments.`);
  const environments: EnvironmentFile['environments'] = {};
  for (const [name, body] of Object.entries(envs as Record<string, unknown>)) {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new ConfigurationError('config', `${path}: environment ${name} must be a map of inputs.`);
    const common: Settings = {};
    const byCommand: Record<string, Settings> = {};
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
      if (isCommand(key) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        byCommand[key] = {};
        for (const [input, v] of Object.entries(value as Record<string, unknown>)) {
          if (!isInput(input))
            throw new ConfigurationError(
              'config',
              `${path}: ${name}.${key}.${input} is not an input of any action.`,
            );
          (byCommand[key] as Settings)[input] = text(path, `${name}.${key}.${input}`, v);
        }
      } else if (isInput(key)) common[key] = text(path, `${name}.${key}`, value);
      else
        throw new ConfigurationError(
          'config',
          `${path}: ${name}.${key} is not an input of any action, nor a command.`,
        );
    }
    environments[name] = { common, byCommand };
  }
  return { path, environments };
}

/** The settings of one environment for one command: the command's own over the common ones. */
export function environmentSettings(file: EnvironmentFile, env: string, command: string): Settings {
  const chosen = file.environments[env];
  if (!chosen)
    throw new ConfigurationError(
      'env',
      `${JSON.stringify(env)} is not an environment of ${file.path} (it has ${Object.keys(file.environments).join(', ') || 'none'}).`,
    );
  return { ...chosen.common, ...(chosen.byCommand[command] ?? {}) };
}
