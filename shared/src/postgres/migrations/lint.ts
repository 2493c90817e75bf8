/**
 * Lint before apply: squawk's rules on every pending migration, with the server's version and, for a
 * transactional file, `--assume-in-transaction` (the runner wraps it in one). Its own
 * `-- squawk-ignore` comments and a `.squawk.toml` beside the files are honoured (squawk reads them).
 *
 * Under `lint: error` a violation of a rule about locks, blocking or breaking a running app stops the
 * run before anything is applied; squawk's `prefer-*` style advice (bigint over int, identity over
 * serial…) is reported but never stops a deploy. The two rules demanding `SET lock_timeout` /
 * `SET statement_timeout` in the file are left out: the runner sets both around every migration.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { OperationError, errorText } from '../../errors.js';
import type { Log } from '../../log.js';
import type { MigrationFile } from './files.js';
import { findSquawk, SQUAWK_VERSION } from './squawk.js';

export type LintLevel = 'error' | 'warn' | 'off';
export const LINT_LEVELS: readonly LintLevel[] = ['error', 'warn', 'off'];

/** Set by the runner around every migration (lock-timeout, statement-timeout): not the file's job. */
export const SET_BY_RUNNER = [
  'require-lock-timeout',
  'require-statement-timeout',
  'require-timeout-settings',
];
const LINT_TIMEOUT_MS = 60_000;

export interface LintViolation {
  file: string;
  /** 1-based. */
  line: number;
  rule: string;
  message: string;
  help?: string;
  /** Under lint: error, this one stops the run (false: style advice only). */
  stops: boolean;
}

export interface LintReport {
  level: LintLevel;
  ran: boolean;
  squawk: string;
  files: string[];
  violations: LintViolation[];
  /** Rules left out, and why. */
  excluded: string[];
  /** Why it did not run (lint: warn goes on). */
  notRun?: string;
}

interface SquawkFinding {
  file: string;
  line: number;
  rule_name: string;
  message: string;
  help?: string | null;
}

/** Style advice: reported, never stopping a deploy. */
function isAdvice(rule: string): boolean {
  return rule.startsWith('prefer-') || rule === 'ban-char-field';
}

const run = promisify(execFile);

async function squawkOn(
  binary: string,
  dir: string,
  files: string[],
  args: string[],
): Promise<SquawkFinding[]> {
  if (!files.length) return [];
  let stdout: string;
  try {
    ({ stdout } = await run(binary, [...args, ...files], {
      cwd: dir,
      timeout: LINT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 32 << 20,
    }));
  } catch (error) {
    // Exit 1 with a JSON list is squawk saying it found violations; anything else is a failure to run.
    const e = error as { code?: unknown; stdout?: string; stderr?: string; killed?: boolean };
    if (e.code !== 1 || typeof e.stdout !== 'string' || !e.stdout.trim().startsWith('['))
      throw new OperationError(
        `squawk did not run on ${files.join(', ')}${e.killed ? ` (stopped after ${LINT_TIMEOUT_MS / 1000} s)` : ''}: ${(e.stderr || errorText(error)).trim().split('\n').slice(0, 3).join(' ')}`,
        'lint: warn goes on without the lint, lint: off skips it.',
      );
    stdout = e.stdout;
  }
  const text = stdout.trim();
  if (!text) return [];
  return JSON.parse(text) as SquawkFinding[];
}

export interface LintOptions {
  level: LintLevel;
  dir: string;
  /** The server's version, e.g. `15.4`: squawk's advice depends on it. */
  pgVersion: string;
}

/** Lints the files about to run. Throws nothing for violations: the caller decides on `blocking()`. */
export async function lintMigrations(
  pending: MigrationFile[],
  options: LintOptions,
  log: Log,
): Promise<LintReport> {
  const report: LintReport = {
    level: options.level,
    ran: false,
    squawk: SQUAWK_VERSION,
    files: pending.map((f) => f.file),
    violations: [],
    excluded: SET_BY_RUNNER.map((rule) => `${rule} (the runner sets it around every migration)`),
  };
  if (options.level === 'off' || !pending.length) return report;
  try {
    const binary = await findSquawk(log);
    const common = [
      '--reporter=json',
      `--pg-version=${options.pgVersion}`,
      `--exclude=${SET_BY_RUNNER.join(',')}`,
      '--no-error-on-unmatched-pattern',
    ];
    const transactional = pending.filter((f) => !f.noTransaction).map((f) => f.file);
    const outside = pending.filter((f) => f.noTransaction).map((f) => f.file);
    const found = [
      ...(await squawkOn(binary, options.dir, transactional, [...common, '--assume-in-transaction'])),
      ...(await squawkOn(binary, options.dir, outside, [...common, '--no-assume-in-transaction'])),
    ];
    report.ran = true;
    report.violations = found
      .map((v) => ({
        file: v.file.replace(/^\.\//, ''),
        line: v.line + 1, // squawk counts from 0
        rule: v.rule_name,
        message: v.message,
        ...(v.help ? { help: v.help } : {}),
        stops: options.level === 'error' && !isAdvice(v.rule_name),
      }))
      .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
  } catch (error) {
    if (!(error instanceof OperationError)) throw error;
    if (options.level === 'error')
      throw new OperationError(
        `The migration lint could not run, and lint is error: ${error.message} Nothing was applied.`,
        error.hint,
      );
    report.notRun = error.message;
    log.warn(`migration lint did not run: ${error.message}`);
    return report;
  }
  for (const v of report.violations) {
    const line = `lint ${v.file}:${v.line} ${v.rule}: ${v.message}${v.help ? ` — ${v.help}` : ''}`;
    if (!isAdvice(v.rule)) log.warn(line);
    else log.info(line);
  }
  return report;
}

/** The refusal for violations that stop the run, naming each. */
export function lintRefusal(report: LintReport): OperationError | undefined {
  const stops = report.violations.filter((v) => v.stops);
  if (!stops.length) return undefined;
  return new OperationError(
    `Refused by the migration lint (squawk ${report.squawk}): ${stops
      .slice(0, 8)
      .map((v) => `${v.file} line ${v.line} ${v.rule}: ${v.message}`)
      .join('; ')}${stops.length > 8 ? `; and ${stops.length - 8} more` : ''}. Nothing was applied.`,
    'change the migration as squawk advises (the summary lists each), or, when the risk is understood (a small table), put `-- squawk-ignore <rule>` on the line before the statement; lint: warn reports without stopping.',
  );
}
