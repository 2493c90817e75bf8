/** What a health verification checks, and the parsers for the health-specific input formats. */
import type { Duplex } from 'node:stream';
import type { BackoffPolicy } from '../retry/backoff.js';
import { ConfigurationError } from '../errors.js';
import { parseJson } from '../config/parse.js';

export interface StatusRange {
  from: number;
  to: number;
}

export type JsonScalar = string | number | boolean | null;

/** One assertion on the response body: the value at `path` is one of `allowed`. */
export interface JsonAssertion {
  /** Dotted path segments; `*` stands for every key of an object or element of an array. */
  path: string[];
  allowed: JsonScalar[];
}

export interface HealthOptions {
  urls: URL[];
  expectedStatus: StatusRange[];
  /** Body assertions; null when the body is not checked at all. */
  expectJson: JsonAssertion[] | null;
  /** The release that must be serving (a sha or release id); undefined to skip the check. */
  expectedVersion?: string;
  /**
   * How `expectedVersion` is held: `require` (default) — a body without a version field fails at
   * once; `auto` — a version that is served must match, a body without one passes (the caller proves
   * the release another way: pm2's pid, start time and cwd).
   */
  versionCheck?: 'require' | 'auto';
  /** Per request: connect, headers and body together. */
  timeoutMs: number;
  maxAttempts: number;
  /** The whole verification stops by then, whatever attempts remain. */
  deadlineMs: number;
  /** Waits between attempts: grows after failures, resets after a pass. */
  interval: BackoffPolicy;
  /** Consecutive passing attempts required: catches flapping and crash loops. */
  successThreshold: number;
  maxLatencyMs?: number;
  tlsMinDays?: number;
  tlsExpiry: 'fail' | 'warn';
  /** Extra trusted CA certificates (PEM) for https URLs. */
  tlsCa?: string;
  databaseUrl?: string;
  headers: Record<string, string>;
  followRedirects: boolean;
  /**
   * A URL that has refused connections (or a proxy that answers 502 for it) since the first attempt
   * fails once this much time has passed: a release that never binds its port is not waited out to the deadline.
   */
  startTimeoutMs?: number;
  /** Reach the URL through this instead of TCP from here (an SSH tunnel). */
  tunnel?: (host: string, port: number) => Promise<Duplex>;
}

/** Everything but the URLs: how a deploy or rollback judges each host's health URL. */
export type HealthCriteria = Omit<HealthOptions, 'urls'>;

/** The runbook's `/health` shape and the IETF health+json shape, both accepted by default. */
export const DEFAULT_JSON_EXPECTATION: JsonAssertion[] = [
  { path: ['status'], allowed: ['healthy', 'ok', 'pass'] },
  { path: ['services', '*'], allowed: ['connected'] },
  { path: ['checks', '*', '*', 'status'], allowed: ['pass'] },
];

/** `200`, `200-299`, `2xx`, or several of them separated by commas or spaces. */
export function parseStatusRanges(input: string, raw: string): StatusRange[] {
  const parts = raw.split(/[\s,]+/).filter((p) => p !== '');
  if (parts.length === 0)
    throw new ConfigurationError(input, 'is empty; expected status codes such as 200, 200-299 or 2xx.');
  return parts.map((part) => {
    let range: StatusRange | undefined;
    let m: RegExpMatchArray | null;
    if ((m = /^([1-5])xx$/i.exec(part))) range = { from: Number(m[1]) * 100, to: Number(m[1]) * 100 + 99 };
    else if ((m = /^(\d{3})-(\d{3})$/.exec(part))) range = { from: Number(m[1]), to: Number(m[2]) };
    else if ((m = /^(\d{3})$/.exec(part))) range = { from: Number(m[1]), to: Number(m[1]) };
    if (!range || range.from < 100 || range.to > 599 || range.from > range.to) {
      throw new ConfigurationError(
        input,
        `${JSON.stringify(part)} is not a status code or range; expected e.g. 200, 200-299 or 2xx.`,
      );
    }
    return range;
  });
}

export function statusMatches(ranges: StatusRange[], code: number): boolean {
  return ranges.some((r) => code >= r.from && code <= r.to);
}

export function describeStatusRanges(ranges: StatusRange[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(', ');
}

/**
 * `expect-json`: empty for the default, `none` to skip body checks, or a JSON object whose keys are
 * dotted paths and whose values are the accepted value or a list of accepted values:
 * `{"status": ["healthy", "ok"], "services.*": "connected", "version": "1.4.2"}`.
 */
export function parseJsonExpectation(input: string, raw: string): JsonAssertion[] | null {
  const text = raw.trim();
  if (text === '' || text === 'default') return DEFAULT_JSON_EXPECTATION;
  if (text === 'none' || text === 'false') return null;
  const parsed = parseJson(input, text);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigurationError(
      input,
      'must be a JSON object of "path": value pairs, e.g. {"status": "healthy", "services.*": "connected"}.',
    );
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length === 0)
    throw new ConfigurationError(
      input,
      'is an empty object; give at least one "path": value pair, or `none`.',
    );
  return entries.map(([key, value]) => {
    const path = key.split('.');
    if (path.some((segment) => segment === '')) {
      throw new ConfigurationError(input, `path ${JSON.stringify(key)} has an empty segment.`);
    }
    const allowed = Array.isArray(value) ? value : [value];
    if (allowed.length === 0 || !allowed.every(isScalar)) {
      throw new ConfigurationError(
        input,
        `the value for ${JSON.stringify(key)} must be a string, number, boolean, null or a list of them.`,
      );
    }
    return { path, allowed };
  });
}

function isScalar(value: unknown): value is JsonScalar {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** `Name: value` lines. Values are secrets (auth headers): the caller masks them. */
export function parseHeaders(input: string, raw: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of raw.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      // The line may hold a secret: say which line, never what it holds.
      throw new ConfigurationError(
        input,
        'each line must be `Name: value` with a valid header name (the value is not shown).',
      );
    }
    headers[name.toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
