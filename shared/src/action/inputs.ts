/**
 * Typed input readers. The runner never enforces `required: true` and passes every input as text,
 * so each reader validates and names the input when it refuses. Parsing lives in config/parse.
 */
import * as core from '@actions/core';
import { ConfigurationError } from '../errors.js';
import {
  parseBoolean,
  parseChoice,
  parseDuration,
  parseHttpUrl,
  parseInteger,
  parseList,
} from '../config/parse.js';
import { maskSecret } from './redaction.js';

/** Raw text of an input, trimmed; '' when not given. */
export function rawInput(name: string): string {
  return core.getInput(name, { trimWhitespace: true });
}

export function readString(name: string, options: { required: true }): string;
export function readString(name: string, options?: { required?: false }): string | undefined;
export function readString(name: string, options: { required?: boolean } = {}): string | undefined {
  const value = rawInput(name);
  if (value === '') {
    if (options.required) throw new ConfigurationError(name, 'is required but was not given.');
    return undefined;
  }
  return value;
}

/** A secret is masked before anything else can happen to it, validation messages included. */
export function readSecret(name: string, options: { required: true }): string;
export function readSecret(name: string, options?: { required?: false }): string | undefined;
export function readSecret(name: string, options: { required?: boolean } = {}): string | undefined {
  const value = core.getInput(name);
  if (value.trim() !== '') maskSecret(value);
  if (value.trim() === '') {
    if (options.required)
      throw new ConfigurationError(name, 'is required but was not given (is the secret set?).');
    return undefined;
  }
  return value;
}

export function readInteger(
  name: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
  const raw = rawInput(name);
  return raw === '' ? fallback : parseInteger(name, raw, range);
}

export function readOptionalInteger(
  name: string,
  range: { min?: number; max?: number } = {},
): number | undefined {
  const raw = rawInput(name);
  return raw === '' ? undefined : parseInteger(name, raw, range);
}

/** Milliseconds, from `500ms`, `30s`, `2m`, `1h` or bare seconds. */
export function readDuration(
  name: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
  const raw = rawInput(name);
  return raw === '' ? fallback : parseDuration(name, raw, range);
}

export function readOptionalDuration(
  name: string,
  range: { min?: number; max?: number } = {},
): number | undefined {
  const raw = rawInput(name);
  return raw === '' ? undefined : parseDuration(name, raw, range);
}

export function readBoolean(name: string, fallback: boolean): boolean {
  const raw = rawInput(name);
  return raw === '' ? fallback : parseBoolean(name, raw);
}

export function readList(name: string, options: { required?: boolean } = {}): string[] {
  const items = parseList(rawInput(name));
  if (items.length === 0 && options.required)
    throw new ConfigurationError(name, 'is required but was not given.');
  return items;
}

export function readUrls(name: string, options: { required?: boolean } = {}): URL[] {
  return readList(name, options).map((item) => parseHttpUrl(name, item));
}

export function readChoice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const raw = rawInput(name);
  return raw === '' ? fallback : parseChoice(name, raw, choices);
}
