/**
 * A PostgreSQL connection URL as given in an input: parsed once, its password masked in every form
 * the moment it is known, and turned into what each client wants — a libpq conninfo string without
 * the password for the command-line tools (the password travels in PGPASSWORD, never in argv where
 * `ps` would show it), and a connection config for node-pg.
 */
import { urlOrUndefined } from '../config/parse.js';
import { ConfigurationError } from '../errors.js';

export interface DatabaseUrl {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string;
  /** Query parameters (sslmode, options, …), passed through to the clients. */
  params: Record<string, string>;
}

/** Parses `postgres(ql)://user:password@host:port/database?params`; `mask` gets the secret parts first. */
export function parseDatabaseUrl(input: string, raw: string, mask: (secret: string) => void): DatabaseUrl {
  const url = urlOrUndefined(raw);
  if (!url) {
    throw new ConfigurationError(
      input,
      'is not a URL; expected postgresql://user:password@host:5432/database (the value is not shown).',
    );
  }
  const password = url.password === '' ? undefined : safeDecode(url.password);
  if (password !== undefined) {
    mask(password);
    mask(url.password);
  }
  if (url.protocol !== 'postgresql:' && url.protocol !== 'postgres:') {
    throw new ConfigurationError(
      input,
      `uses the scheme ${JSON.stringify(url.protocol)}; expected postgresql://user:password@host:5432/database.`,
    );
  }
  const params: Record<string, string> = {};
  for (const [key, value] of url.searchParams) params[key] = value;
  // libpq allows the host in a parameter (a socket directory); it wins over the authority part.
  const host = params.host ?? (url.hostname === '' ? '' : safeDecode(url.hostname).replace(/^\[|\]$/g, ''));
  delete params.host;
  const portText = params.port ?? url.port;
  delete params.port;
  const port = portText === '' || portText === undefined ? 5432 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ConfigurationError(input, `has the port ${JSON.stringify(portText)}; expected 1-65535.`);
  const database = safeDecode(url.pathname.replace(/^\//, ''));
  const user = url.username === '' ? '' : safeDecode(url.username);
  if (host === '')
    throw new ConfigurationError(input, 'names no host; expected postgresql://user@host/database.');
  if (database === '' || database.includes('/'))
    throw new ConfigurationError(input, 'names no database; expected postgresql://user@host:5432/database.');
  if (user === '')
    throw new ConfigurationError(input, 'names no user; expected postgresql://user@host/database.');
  return { host, port, database, user, ...(password !== undefined ? { password } : {}), params };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `user@host:port/database`: what logs and summaries show (never the password). */
export function describeDatabase(db: DatabaseUrl): string {
  const host = db.host.includes(':') ? `[${db.host}]` : db.host;
  return `${db.user}@${host}:${db.port}/${db.database}`;
}

/** libpq `key='value'` quoting: backslash and single quote are escaped. */
function conninfoValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export interface Reach {
  /** Where to connect, when it differs from the URL's host (a local tunnel end). */
  address?: string;
  port?: number;
}

/**
 * The conninfo string for pg_dump, pg_restore and psql (`--dbname`), without the password. Through a
 * tunnel, `hostaddr` carries the local end and `host` stays the URL's, so TLS still verifies the
 * server's real name.
 */
export function conninfo(db: DatabaseUrl, reach: Reach = {}, database = db.database): string {
  const pairs: Record<string, string> = {
    ...db.params,
    host: db.host,
    port: String(reach.port ?? db.port),
    dbname: database,
    user: db.user,
    application_name: db.params.application_name ?? 'runbook-actions',
  };
  if (reach.address) pairs.hostaddr = reach.address;
  delete pairs.password;
  return Object.entries(pairs)
    .map(([key, value]) => `${key}=${conninfoValue(value)}`)
    .join(' ');
}

/**
 * Environment for the client tools: the password where libpq reads it; none of the caller's PG*
 * variables (a stray PGHOST or PGSERVICE must not change what we connect to). Without a password in
 * the URL, libpq still finds one in ~/.pgpass, as psql would.
 */
export function toolEnvironment(db: DatabaseUrl): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PG')) env[key] = value;
  if (db.password !== undefined) env.PGPASSWORD = db.password;
  env.PGCONNECT_TIMEOUT = env.PGCONNECT_TIMEOUT ?? '15';
  return env;
}

/** node-pg's configuration for the same database. */
export function clientConfig(db: DatabaseUrl, reach: Reach = {}, database = db.database) {
  const ssl = db.params.sslmode;
  const tls =
    ssl === undefined || ssl === 'disable' || ssl === 'allow' || ssl === 'prefer'
      ? undefined
      : ssl === 'require'
        ? { rejectUnauthorized: false }
        : { rejectUnauthorized: true, servername: db.host };
  return {
    host: reach.address ?? db.host,
    port: reach.port ?? db.port,
    database,
    user: db.user,
    ...(db.password !== undefined ? { password: db.password } : {}),
    ...(tls ? { ssl: tls } : {}),
    application_name: 'runbook-actions',
    connectionTimeoutMillis: 15_000,
  };
}

/** Identifier quoting for SQL we write: "name" with " doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
