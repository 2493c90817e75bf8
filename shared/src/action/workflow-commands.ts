/**
 * The runner's protocol, written the way @actions/core writes it: inputs from INPUT_* variables,
 * `::command::` lines on stdout, outputs and the summary appended to the files the runner names.
 *
 * Why not @actions/core itself: its entry module imports its OIDC client, and with it
 * @actions/http-client and undici — about 120 ms of every action's start on Node 24, for a token
 * these actions never ask for (`npm run bench` shows the ratio). This file keeps the handful of
 * calls we make; test/unit/workflow-commands.test.ts runs each one through both this file and
 * @actions/core and requires byte-identical stdout and files.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { EOL } from 'node:os';

function commandValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function escapeData(value: unknown): string {
  return commandValue(value).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** `::name::message` — the message escaped so that it stays one line. */
function issue(name: string, message: unknown = ''): void {
  process.stdout.write(`::${name}::${escapeData(message)}${EOL}`);
}

/** The raw input, as the runner passes it: `INPUT_<NAME>` with spaces as underscores, trimmed. */
export function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim();
}

/** Tells the runner to mask this value in every later log line. */
export function setSecret(secret: string): void {
  issue('add-mask', secret);
}

export function info(message: string): void {
  process.stdout.write(message + EOL);
}

export function debug(message: string): void {
  issue('debug', message);
}

export function warning(message: string): void {
  issue('warning', message);
}

export function error(message: string): void {
  issue('error', message);
}

/** An `::error::` annotation and exit code 1 once the process ends. */
export function setFailed(message: string): void {
  process.exitCode = 1;
  error(message);
}

/** Runs fn inside a collapsible log group, closed whatever fn does. */
export async function group<T>(name: string, fn: () => Promise<T>): Promise<T> {
  issue('group', name);
  try {
    return await fn();
  } finally {
    issue('endgroup');
  }
}

function appendToRunnerFile(variable: string, text: string): void {
  const path = process.env[variable];
  if (!path) throw new Error(`Unable to find environment variable for file command ${variable}`);
  if (!existsSync(path)) throw new Error(`Missing file at path: ${path}`);
  appendFileSync(path, text, { encoding: 'utf8' });
}

/**
 * A step output: `name<<delimiter` … `delimiter` appended to $GITHUB_OUTPUT, the delimiter random
 * so that no value can end the block early (the runner's heredoc form); the old `::set-output`
 * line where no file is given (a local try-out).
 */
export function setOutput(name: string, value: unknown): void {
  const converted = commandValue(value);
  if (!process.env.GITHUB_OUTPUT) {
    process.stdout.write(EOL);
    process.stdout.write(`::set-output name=${escapeProperty(name)}::${escapeData(converted)}${EOL}`);
    return;
  }
  const delimiter = `ghadelimiter_${globalThis.crypto.randomUUID()}`;
  if (name.includes(delimiter) || converted.includes(delimiter)) {
    throw new Error(`Unexpected input: the output ${name} contains the delimiter "${delimiter}"`);
  }
  appendToRunnerFile('GITHUB_OUTPUT', `${name}<<${delimiter}${EOL}${converted}${EOL}${delimiter}${EOL}`);
}

function escapeProperty(value: string): string {
  return escapeData(value).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** Appends markdown (and a line end) to the job summary, when the runner gives a summary file. */
export function appendSummary(markdown: string): void {
  appendToRunnerFile('GITHUB_STEP_SUMMARY', markdown + EOL);
}
