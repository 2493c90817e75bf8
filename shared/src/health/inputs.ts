/**
 * The health inputs, read one way wherever a deployment is verified: action-health, the CLI,
 * action-deploy and action-rollback, which take the same names.
 */
import { ConfigurationError } from '../errors.js';
import type { Inputs } from '../config/inputs.js';
import {
  parseHeaders,
  parseJsonExpectation,
  parseStatusRanges,
  type HealthCriteria,
  type HealthOptions,
} from './options.js';

const MAX_INTERVAL_MS = 30_000;

export function readHealthOptions(inputs: Inputs): HealthOptions {
  const criteria = readHealthCriteria(inputs);
  return { urls: inputs.urls('url', { required: true }), ...criteria };
}

/** The health inputs but the URL, for actions that derive the URL per host. */
export function readHealthCriteria(inputs: Inputs): HealthCriteria {
  // Secrets first: they are masked before any other input can fail and print something.
  const headersRaw = inputs.secret('headers');
  const databaseUrl = inputs.secret('database-url');
  if (databaseUrl) maskConnectionPassword(inputs, databaseUrl);
  const headers = headersRaw ? parseHeaders('headers', headersRaw) : {};
  for (const value of Object.values(headers)) maskHeaderValue(inputs, value);

  const intervalMs = inputs.duration('interval', 2000, { min: 0, max: 600_000 });
  return {
    expectedStatus: parseStatusRanges('expected-status', inputs.raw('expected-status') || '200'),
    expectJson: parseJsonExpectation('expect-json', inputs.raw('expect-json')),
    expectedVersion: inputs.string('expected-version'),
    timeoutMs: inputs.duration('timeout', 5000, { min: 1, max: 600_000 }),
    maxAttempts: inputs.integer('max-attempts', 10, { min: 1, max: 1000 }),
    deadlineMs: inputs.duration('deadline', 120_000, { min: 1, max: 6 * 3_600_000 }),
    interval: { initialMs: intervalMs, factor: 2, maxMs: Math.max(intervalMs, MAX_INTERVAL_MS), jitter: 0.2 },
    successThreshold: inputs.integer('success-threshold', 1, { min: 1, max: 100 }),
    maxLatencyMs: inputs.optionalDuration('max-latency', { min: 1 }),
    tlsMinDays: inputs.optionalInteger('tls-min-days', { min: 0, max: 3650 }),
    tlsExpiry: inputs.choice('tls-expiry', ['fail', 'warn'] as const, 'warn'),
    tlsCa: inputs.string('tls-ca'),
    databaseUrl,
    headers,
    followRedirects: inputs.boolean('follow-redirects', false),
  };
}

/**
 * A header value is masked whole, and so is the credential inside an `Authorization`-style value
 * (`Bearer <token>`, `Basic <base64>`): a log line may quote the token alone. A Basic credential's
 * decoded `user:password` and password are masked too.
 */
export function maskHeaderValue(inputs: Pick<Inputs, 'mask'>, value: string): void {
  inputs.mask(value);
  const scheme = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)\s+(\S.*)$/.exec(value);
  if (!scheme) return;
  const credential = (scheme[2] as string).trim();
  inputs.mask(credential);
  if ((scheme[1] as string).toLowerCase() === 'basic') {
    const decoded = Buffer.from(credential, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0 && /^[\x20-\x7e]+$/.test(decoded)) {
      inputs.mask(decoded);
      if (decoded.length > colon + 1) inputs.mask(decoded.slice(colon + 1));
    }
  }
}

/** The password inside a connection string is a secret of its own (pg's errors may quote it). */
function maskConnectionPassword(inputs: Inputs, databaseUrl: string): void {
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
    inputs.mask(url.password);
    inputs.mask(decodeURIComponent(url.password));
  }
}
