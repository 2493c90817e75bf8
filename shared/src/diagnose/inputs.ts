/** The inputs of action-diagnose, read one way for the action and the CLI. */
import { readSmokeRequests } from '../health/smoke.js';
import type { Inputs } from '../config/inputs.js';
import { readHealthCriteria } from '../health/inputs.js';
import { readDatabaseUrl, readSshRoute } from '../postgres/inputs.js';
import { parseHealthUrlTemplates } from '../releases/host-url.js';
import { parseAppDir, parseAppName } from '../releases/layout.js';
import { ConfigurationError } from '../errors.js';
import { readSshOptions } from '../ssh/inputs.js';
import { parseSshTarget } from '../ssh/target.js';
import type { DiagnoseOptions } from './diagnose.js';
import { readEnvFileLocation } from '../envfile/inputs.js';

export function readDiagnoseOptions(inputs: Inputs, env: NodeJS.ProcessEnv = process.env): DiagnoseOptions {
  // Secrets first, masked before anything else can fail and print something.
  const secrets = inputs
    .raw('redact')
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s.length >= 4);
  secrets.forEach((s) => inputs.mask(s));
  const redisRaw = inputs.secret('redis-url');
  const redisPassword = inputs.secret('redis-password');
  const redisCliPort = inputs.optionalInteger('redis-cli-port', { min: 1, max: 65535 });
  const db = readDatabaseUrl(inputs, 'database-url', false);
  const health = readHealthCriteria(inputs);
  const hosts = inputs.list('hosts').map((raw) => parseSshTarget('hosts', raw));
  const appDirRaw = inputs.string('app-dir');
  const appDir = appDirRaw ? parseAppDir('app-dir', appDirRaw) : undefined;
  const envFile = readEnvFileLocation(inputs, appDir);
  const app = inputs.string('app-name');
  const redisUrl = redisRaw ? parseRedisUrl(inputs, 'redis-url', redisRaw) : undefined;
  const via = db ? readSshRoute(inputs) : undefined;
  const bundleDir =
    inputs.string('bundle-dir') ?? (env.RUNNER_TEMP ? `${env.RUNNER_TEMP}/diagnose-bundle` : undefined);
  return {
    hosts,
    ...(hosts.length ? { ssh: readSshOptions(inputs) } : {}),
    ...(app ? { app: parseAppName('app-name', app) } : {}),
    ...(envFile && hosts.length ? { envFile } : {}),
    healthUrls: inputs.list('health-url').length
      ? parseHealthUrlTemplates('health-url', inputs.list('health-url'), Math.max(1, hosts.length))
      : [],
    health,
    logLines: inputs.integer('log-lines', 100, { min: 0, max: 10_000 }),
    diskWarnPercent: inputs.integer('disk-warn-percent', 85, { min: 1, max: 100 }),
    slowMs: inputs.duration('slow-threshold', 2000, { min: 1, max: 600_000 }),
    ...(db ? { database: { db, ...(via ? { via } : {}) } } : {}),
    longQueryAfterMs: inputs.duration('long-query-after', 30_000, { min: 0, max: 86_400_000 }),
    crashWindowMs: inputs.duration('crash-window', 3000, { min: 0, max: 60_000 }),
    ...(redisUrl ? { redisUrl } : {}),
    ...(redisCliPort
      ? { redisOnHost: { port: redisCliPort, ...(redisPassword ? { password: redisPassword } : {}) } }
      : {}),
    externalUrls: inputs.urls('external-urls'),
    logWindowMs: inputs.duration('log-window', 5000, { min: 0, max: 60_000 }),
    smokeRequests: readSmokeRequests(inputs),
    secrets,
    ...(bundleDir ? { bundleDir } : {}),
  };
}

/** A redis:// or rediss:// URL, its password masked in every form; the value never shown. */
export function parseRedisUrl(inputs: Inputs, name: string, raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
    if (!['redis:', 'rediss:'].includes(url.protocol)) throw new Error('scheme');
  } catch {
    throw new ConfigurationError(name, 'is not a redis:// or rediss:// URL (the value is not shown).');
  }
  if (url.password) inputs.mask(decodeURIComponent(url.password));
  return url;
}
