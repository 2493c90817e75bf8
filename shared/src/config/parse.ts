/**
 * The one input parser. Every value that arrives as text (an action input, a CLI flag, a config
 * file entry) is turned into a typed value here, and every failure is a ConfigurationError that
 * names the input and shows the expected format. Pure: no runner, no I/O.
 */
import { ConfigurationError } from '../errors.js';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `30s`, `2m`, `1h`, `90d`, `1m30s`; a bare number means seconds. Returns milliseconds. */
export function parseDuration(
  input: string,
  raw: string,
  range: { min?: number; max?: number } = {},
): number {
  const text = raw.trim();
  const expected = 'expected a duration such as 500ms, 30s, 2m or 1h';
  if (text === '') throw new ConfigurationError(input, `is empty; ${expected}.`);
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
      throw new ConfigurationError(input, `${JSON.stringify(raw)} is not a duration; ${expected}.`);
    }
    ms = parts.reduce((sum, p) => sum + Number(p[1]) * (DURATION_UNITS[p[2] as string] as number), 0);
  }
  ms = Math.round(ms);
  if (range.min !== undefined && ms < range.min) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is too short; the least is ${formatDuration(range.min)}.`,
    );
  }
  if (range.max !== undefined && ms > range.max) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is too long; the most is ${formatDuration(range.max)}.`,
    );
  }
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(2)}s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(2)}m`;
  if (ms < 2 * 86_400_000) return `${+(ms / 3_600_000).toFixed(2)}h`;
  return `${+(ms / 86_400_000).toFixed(2)}d`;
}

const SIZE_UNITS: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `512KB`, `32MB`, `1.5GB` (powers of 1024; `MiB` and `M` read the same); a bare number is bytes. */
export function parseSize(input: string, raw: string, range: { min?: number; max?: number } = {}): number {
  const match = /^(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|(b))?$/i.exec(raw.trim());
  if (!match)
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not a size; expected e.g. 512KB, 32MB or 1GB.`,
    );
  const unit = (match[2] ?? match[3] ?? 'b').toLowerCase();
  const bytes = Math.round(Number(match[1]) * (SIZE_UNITS[unit] as number));
  if (range.min !== undefined && bytes < range.min)
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is too small; the least is ${formatBytes(range.min)}.`,
    );
  if (range.max !== undefined && bytes > range.max)
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is too large; the most is ${formatBytes(range.max)}.`,
    );
  return bytes;
}

const MIB = 1024 * 1024;

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'unknown';
  if (bytes >= 1024 * MIB) return `${(bytes / 1024 / MIB).toFixed(1)} GiB`;
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  return `${Math.round(bytes / 1024)} KiB`;
}

export function parseInteger(input: string, raw: string, range: { min?: number; max?: number } = {}): number {
  const text = raw.trim();
  const bounds =
    range.min !== undefined && range.max !== undefined
      ? `from ${range.min} to ${range.max}`
      : range.min !== undefined
        ? `of at least ${range.min}`
        : range.max !== undefined
          ? `of at most ${range.max}`
          : '';
  if (!/^[-+]?\d+$/.test(text)) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not a whole number; expected a whole number ${bounds}.`.replace(' .', '.'),
    );
  }
  const value = Number(text);
  if ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)) {
    throw new ConfigurationError(input, `${value} is out of range; expected a whole number ${bounds}.`);
  }
  return value;
}

const TRUE = new Set(['true', 'yes', 'on', '1']);
const FALSE = new Set(['false', 'no', 'off', '0']);

export function parseBoolean(input: string, raw: string): boolean {
  const text = raw.trim().toLowerCase();
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  throw new ConfigurationError(input, `${JSON.stringify(raw)} is not a boolean; expected true or false.`);
}

/** Items separated by newlines or commas; blanks and surrounding spaces dropped. */
export function parseList(raw: string): string[] {
  return raw
    .split(/[\n,]/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** A URL, or undefined when the text is not one (the caller words the error: it may be a secret). */
export function urlOrUndefined(text: string): URL | undefined {
  try {
    return new URL(text.trim());
  } catch {
    return undefined;
  }
}

export function parseHttpUrl(input: string, raw: string): URL {
  const url = urlOrUndefined(raw);
  if (!url) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not a URL; expected http://host[:port]/path or https://….`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} uses ${url.protocol}; only http:// and https:// URLs are checked.`,
    );
  }
  if (url.username || url.password) {
    throw new ConfigurationError(
      input,
      'must not carry credentials in the URL; pass them in `headers` (masked) instead.',
    );
  }
  return url;
}

export function parseChoice<T extends string>(input: string, raw: string, choices: readonly T[]): T {
  const text = raw.trim().toLowerCase();
  const found = choices.find((choice) => choice === text);
  if (found === undefined) {
    throw new ConfigurationError(input, `${JSON.stringify(raw)} is not one of: ${choices.join(', ')}.`);
  }
  return found;
}

export function parseJson(input: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigurationError(input, `is not valid JSON (${reason}).`);
  }
}

/** True when the text holds a control character (newline, tab, NUL, ESC…): never valid in a path or name. */
export function hasControlCharacters(text: string): boolean {
  return [...text].some((ch) => (ch.codePointAt(0) as number) < 0x20 || ch === '\x7f');
}

/** A path inside a release (`server.js`, `config/.env`): relative, no `..`, no empty segment. */
export function parseRelativePath(input: string, raw: string): string {
  const text = raw.trim();
  if (
    text === '' ||
    text.startsWith('/') ||
    text.split('/').some((s) => s === '..' || s === '' || s === '.') ||
    hasControlCharacters(text)
  ) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} must be a path inside the release (relative, no .. or empty parts, no control characters).`,
    );
  }
  return text;
}
