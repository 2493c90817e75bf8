/**
 * Typed input readers over any source of named text values: the runner's INPUT_* variables for an
 * action, flags for the CLI. The runner never enforces `required: true`, so each reader validates
 * and names the input when it refuses. A secret is masked the moment it is read.
 */
import { ConfigurationError } from '../errors.js';
import {
  parseBoolean,
  parseChoice,
  parseDuration,
  parseHttpUrl,
  parseInteger,
  parseList,
  parseSize,
} from './parse.js';

export interface InputSource {
  /** The text given for an input, '' when none. */
  raw(name: string): string;
  /** Called with every secret value as soon as it is read. */
  mask(secret: string): void;
  /** Told which input was read as a secret (the CLI warns of one typed on its command line). */
  secretRead?(name: string): void;
}

type Range = { min?: number; max?: number };

export class Inputs {
  private readonly secretListeners: ((secret: string) => void)[] = [];

  constructor(private readonly source: InputSource) {}

  /** Calls `listener` with every secret read or masked from now on: a core's own redactor. */
  onSecret(listener: (secret: string) => void): void {
    this.secretListeners.push(listener);
  }

  /** Raw text of an input, trimmed; '' when not given. */
  raw(name: string): string {
    return this.source.raw(name).trim();
  }

  mask(secret: string): void {
    this.source.mask(secret);
    for (const listener of this.secretListeners) listener(secret);
  }

  string(name: string, options: { required: true }): string;
  string(name: string, options?: { required?: false }): string | undefined;
  string(name: string, options: { required?: boolean } = {}): string | undefined {
    const value = this.raw(name);
    if (value === '') {
      if (options.required) throw new ConfigurationError(name, 'is required but was not given.');
      return undefined;
    }
    return value;
  }

  /** Masked before anything else can happen to it, validation messages included. */
  secret(name: string, options: { required: true }): string;
  secret(name: string, options?: { required?: false }): string | undefined;
  secret(name: string, options: { required?: boolean } = {}): string | undefined {
    const value = this.raw(name);
    if (value === '') {
      if (options.required)
        throw new ConfigurationError(name, 'is required but was not given (is the secret set?).');
      return undefined;
    }
    this.mask(value);
    this.source.secretRead?.(name);
    return value;
  }

  integer(name: string, fallback: number, range: Range = {}): number {
    return this.optionalInteger(name, range) ?? fallback;
  }

  optionalInteger(name: string, range: Range = {}): number | undefined {
    const raw = this.raw(name);
    return raw === '' ? undefined : parseInteger(name, raw, range);
  }

  /** Milliseconds, from `500ms`, `30s`, `2m`, `1h` or bare seconds. */
  duration(name: string, fallback: number, range: Range = {}): number {
    return this.optionalDuration(name, range) ?? fallback;
  }

  optionalDuration(name: string, range: Range = {}): number | undefined {
    const raw = this.raw(name);
    return raw === '' ? undefined : parseDuration(name, raw, range);
  }

  /** Bytes, from `512KB`, `32MB`, `1GB` or bare bytes. */
  size(name: string, fallback: number, range: Range = {}): number {
    const raw = this.raw(name);
    return raw === '' ? fallback : parseSize(name, raw, range);
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.raw(name);
    return raw === '' ? fallback : parseBoolean(name, raw);
  }

  list(name: string, options: { required?: boolean } = {}): string[] {
    const items = parseList(this.raw(name));
    if (items.length === 0 && options.required)
      throw new ConfigurationError(name, 'is required but was not given.');
    return items;
  }

  urls(name: string, options: { required?: boolean } = {}): URL[] {
    return this.list(name, options).map((item) => parseHttpUrl(name, item));
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const raw = this.raw(name);
    return raw === '' ? fallback : parseChoice(name, raw, choices);
  }
}
