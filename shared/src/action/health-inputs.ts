/**
 * The health inputs, read one way for every action that verifies a deployment (action-health,
 * and later action-deploy and action-rollback, which take the same names).
 */
import { ConfigurationError } from '../errors.js';
import {
  parseHeaders,
  parseJsonExpectation,
  parseStatusRanges,
  type HealthOptions,
} from '../health/options.js';
import {
  rawInput,
  readBoolean,
  readChoice,
  readDuration,
  readInteger,
  readOptionalDuration,
  readOptionalInteger,
  readSecret,
  readString,
  readUrls,
} from './inputs.js';
import { maskSecret } from './redaction.js';

const MAX_INTERVAL_MS = 30_000;

export function readHealthOptions(urlInput = 'url'): HealthOptions {
  // Secrets first: they are masked before any other input can fail and print something.
  const headersRaw = readSecret('headers');
  const databaseUrl = readSecret('database-url');
  if (databaseUrl) maskConnectionPassword(databaseUrl);
  const headers = headersRaw ? parseHeaders('headers', headersRaw) : {};
  for (const value of Object.values(headers)) maskSecret(value);

  const urls = readUrls(urlInput, { required: true });
  const expectedStatusRaw = rawInput('expected-status');
  const intervalMs = readDuration('interval', 2000, { min: 0, max: 600_000 });
  return {
    urls,
    expectedStatus: parseStatusRanges(
      'expected-status',
      expectedStatusRaw === '' ? '200' : expectedStatusRaw,
    ),
    expectJson: parseJsonExpectation('expect-json', rawInput('expect-json')),
    expectedVersion: readString('expected-version'),
    timeoutMs: readDuration('timeout', 5000, { min: 1, max: 600_000 }),
    maxAttempts: readInteger('max-attempts', 10, { min: 1, max: 1000 }),
    deadlineMs: readDuration('deadline', 120_000, { min: 1, max: 6 * 3_600_000 }),
    interval: { initialMs: intervalMs, factor: 2, maxMs: Math.max(intervalMs, MAX_INTERVAL_MS), jitter: 0.2 },
    successThreshold: readInteger('success-threshold', 1, { min: 1, max: 100 }),
    maxLatencyMs: readOptionalDuration('max-latency', { min: 1 }),
    tlsMinDays: readOptionalInteger('tls-min-days', { min: 0, max: 3650 }),
    tlsExpiry: readChoice('tls-expiry', ['fail', 'warn'] as const, 'warn'),
    tlsCa: readString('tls-ca'),
    databaseUrl,
    headers,
    followRedirects: readBoolean('follow-redirects', false),
  };
}

/** The password inside a connection string is a secret of its own (it appears in pg's errors). */
function maskConnectionPassword(databaseUrl: string): void {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw new ConfigurationError(
      'database-url',
      'is not a URL; expected postgresql://user:password@host:5432/database (the value is not shown).',
    );
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigurationError(
      'database-url',
      `uses ${url.protocol}; expected postgresql://user:password@host:5432/database.`,
    );
  }
  if (url.password) {
    maskSecret(url.password);
    maskSecret(decodeURIComponent(url.password));
  }
}
