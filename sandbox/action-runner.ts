/**
 * Runs an action's committed bundle exactly as the GitHub runner does: `node <runs.main>` with
 * INPUT_<NAME> variables (upper-cased, spaces to `_`, hyphens kept), defaults filled from
 * action.yml, and fresh GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / GITHUB_STATE / GITHUB_ENV / GITHUB_PATH
 * files. Returns the exit code, parsed outputs, summary and annotations, and fails the test if
 * any secret it was told about appears unmasked anywhere the runner would show or store.
 * Tests, the drill and the benchmarks all run bundles through it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { findLeaks } from './leak-guard.js';
import { runnerNode } from './runner-node.js';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface ActionYaml {
  inputs?: Record<string, { default?: string; required?: boolean }>;
  outputs?: Record<string, unknown>;
  runs: { using: string; main: string };
}

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  message: string;
}

export interface ActionRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** Every file the action left in its runner directories (RUNNER_TEMP, GITHUB_STATE, GITHUB_ENV…), by path. */
  runnerFiles: Record<string, string>;
  annotations: Annotation[];
  errors: string[];
  durationMs: number;
}

export interface RunOptions {
  /** Values that must never appear unmasked. */
  secrets?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
  /** The action folder holding action.yml (tests of the helper itself use their own). */
  actionDir?: string;
  /** Called with the started process: tests send it the runner's cancellation signals. */
  onSpawn?: (child: ChildProcess) => void;
}

export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

export function readActionYaml(actionDir: string): ActionYaml {
  return parse(readFileSync(join(actionDir, 'action.yml'), 'utf8')) as ActionYaml;
}

export async function runActionBundle(
  action: string,
  inputs: Record<string, string>,
  options: RunOptions = {},
): Promise<ActionRun> {
  const actionDir = options.actionDir ?? join(repoRoot, action);
  const spec = readActionYaml(actionDir);
  for (const name of Object.keys(inputs)) {
    if (!spec.inputs || !(name in spec.inputs))
      throw new Error(`${action} declares no input '${name}' (a typo in the caller?)`);
  }
  const work = mkdtempSync(join(tmpdir(), 'runbook-runner-'));
  const files = {
    GITHUB_OUTPUT: join(work, 'output'),
    GITHUB_STEP_SUMMARY: join(work, 'summary'),
    GITHUB_STATE: join(work, 'state'),
    GITHUB_ENV: join(work, 'env'),
    GITHUB_PATH: join(work, 'path'),
  };
  for (const file of Object.values(files)) writeFileSync(file, '');

  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('INPUT_') && !key.startsWith('GITHUB_')) env[key] = value;
  }
  delete env.NODE_OPTIONS; // jest's --experimental-vm-modules is not what the runner passes
  for (const [name, declared] of Object.entries(spec.inputs ?? {})) {
    const value = inputs[name] ?? declared.default;
    if (value !== undefined) env[inputEnvName(name)] = String(value);
  }
  Object.assign(env, files, { GITHUB_ACTIONS: 'true', RUNNER_TEMP: work, RUNNER_OS: 'Linux' }, options.env);

  const started = performance.now();
  const child = spawn(runnerNode, [join(actionDir, spec.runs.main)], {
    cwd: work,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timeoutMs = options.timeoutMs ?? 60_000;
  const exitCode = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  const durationMs = Math.round(performance.now() - started);
  const outputs = parseKeyValueFile(readFileSync(files.GITHUB_OUTPUT, 'utf8'));
  const summary = readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8');
  const runnerFiles = readTree(work);
  rmSync(work, { recursive: true, force: true });
  const annotations = parseAnnotations(stdout);
  const result: ActionRun = {
    exitCode,
    stdout,
    stderr,
    outputs,
    summary,
    runnerFiles,
    annotations,
    errors: annotations.filter((a) => a.level === 'error').map((a) => a.message),
    durationMs,
  };
  const leaks = findLeaks(options.secrets ?? [], {
    stdout,
    stderr,
    outputs: JSON.stringify(outputs),
    summary,
    ...runnerFiles,
  });
  if (leaks.length > 0) throw new Error(`secret leaked unmasked in: ${leaks.join(', ')}`);
  return result;
}

/** The text of every regular file under dir (small ones: what an action leaves on the runner). */
function readTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[path] = readFileSync(path, 'utf8');
  }
  return out;
}

/** GITHUB_OUTPUT / GITHUB_ENV format: `name=value` or `name<<DELIM\nvalue\nDELIM`. */
export function parseKeyValueFile(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc as unknown as [string, string, string];
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string);
      result[name] = value.join('\n');
    } else if (line.includes('=')) {
      result[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return result;
}

/** `::error file=…::message` workflow commands, with the runner's escaping undone. */
export function parseAnnotations(stdout: string): Annotation[] {
  const found: Annotation[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const match = /^::(error|warning|notice)(?: [^:]*)?::(.*)$/.exec(line);
    if (match) {
      const message = (match[2] as string).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
      found.push({ level: match[1] as Annotation['level'], message });
    }
  }
  return found;
}
