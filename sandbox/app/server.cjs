'use strict';
/*
 * The sample Bunty API of the sandbox droplet. `GET /health` answers in the runbook's format plus a
 * `releaseId`; tests steer it into the failures on-call engineers meet:
 *   SAMPLE_MODE (env) or "mode" in sample-app.json beside this file (the release's own config wins):
 *     healthy       200 {"status":"healthy",...}
 *     unavailable   503 {"status":"unhealthy", database disconnected}
 *     unhealthy     200 {"status":"unhealthy"}
 *     disconnected  200 {"status":"healthy"} but redis "disconnected"
 *     slow          healthy after SAMPLE_SLOW_MS (default 3000)
 *     crash-at-start  exits 1 before listening
 *     crash-loop    serves, then exits 1 after SAMPLE_CRASH_AFTER_MS (default 2000)
 *     no-listen     runs but never binds its port (a release waiting forever on a dependency)
 *   SAMPLE_FAIL_RELEASE=<releaseId> (env, e.g. in shared/.env) makes only that release unavailable.
 *   POST /__sandbox/behaviour {"mode"?, "sequence"?: [modes], "cycle"?: bool, "slowMs"?}
 *     changes behaviour at run time; a sequence is consumed one /health request at a time.
 * Its .env (beside it; in a release, the link to shared/.env) sets PORT and friends, as dotenv would.
 * Secrets, as the Bunty API holds them: GET /keys answers the fingerprint (first 8 hex of sha256) of
 *   each variable named in SAMPLE_SECRET_KEYS (default JWT_SECRET,JWT_SECRET_PREVIOUS) as the process
 *   holds it; with SAMPLE_SECRET_MIN_LENGTH=N it refuses to start when JWT_SECRET is shorter.
 *   GET /flags answers PLAID_ENABLED, STRIPE_ENABLED and SILA_ENABLED as the process holds them.
 * It shuts down gracefully on SIGINT/SIGTERM (drain keep-alive clients, stop accepting, finish
 * in-flight requests, close what is idle) and tells pm2 it is ready (wait_ready) once it listens.
 */
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const path = require('node:path');

// Like dotenv: the release's .env (linked from shared/) fills what the environment does not set —
// a variable pm2 already passes wins, which is why a rotation must restart with --update-env.
function loadDotEnv() {
  let text;
  try {
    text = fs.readFileSync(path.join(__dirname, '.env'), 'utf8');
  } catch {
    return;
  }
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.lastIndexOf(quote) > 0) {
      value = value.slice(1, value.lastIndexOf(quote));
      if (quote === '"') value = value.replace(/\\(.)/g, (_, c) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    if (process.env[match[1]] === undefined) process.env[match[1]] = value;
  }
}
loadDotEnv();

function releaseConfig() {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, 'sample-app.json'), 'utf8'));
  } catch {
    return {};
  }
}

const fileConfig = releaseConfig();
const crypto = require('node:crypto');
const secretKeys = (process.env.SAMPLE_SECRET_KEYS || 'JWT_SECRET,JWT_SECRET_PREVIOUS').split(',');
const minSecret = Number(process.env.SAMPLE_SECRET_MIN_LENGTH || 0);
if (minSecret && (process.env.JWT_SECRET || '').length < minSecret) {
  console.error(`sample app: JWT_SECRET must be at least ${minSecret} characters; refusing to start`);
  process.exit(1);
}
// The runbook's fallback flags as the process holds them (set-env must reach the running app).
function featureFlags() {
  const out = {};
  for (const key of ['PLAID_ENABLED', 'STRIPE_ENABLED', 'SILA_ENABLED']) out[key] = process.env[key] ?? null;
  return out;
}
function keyFingerprints() {
  const out = {};
  for (const key of secretKeys) {
    const value = process.env[key];
    out[key] = value ? crypto.createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 8) : null;
  }
  return out;
}
const releaseId = fileConfig.releaseId || process.env.RELEASE_ID || 'unknown';
// SAMPLE_FAIL_RELEASE names one release that is broken on this host only (a host-specific failure).
const failsHere =
  process.env.SAMPLE_FAIL_RELEASE !== undefined && process.env.SAMPLE_FAIL_RELEASE === releaseId;
const state = {
  mode: failsHere ? 'unavailable' : fileConfig.mode || process.env.SAMPLE_MODE || 'healthy',
  slowMs: Number(fileConfig.slowMs || process.env.SAMPLE_SLOW_MS || 3000),
  sequence: [],
  cycle: false,
  position: 0,
};
const crashAfterMs = Number(fileConfig.crashAfterMs || process.env.SAMPLE_CRASH_AFTER_MS || 2000);

if (state.mode === 'crash-at-start') {
  console.error(`sample app ${releaseId}: crashing at start (SAMPLE_MODE=crash-at-start)`);
  process.exit(1);
}

function nextMode() {
  if (state.sequence.length === 0) return state.mode;
  if (state.position >= state.sequence.length) {
    if (!state.cycle) return state.sequence[state.sequence.length - 1];
    state.position = 0;
  }
  return state.sequence[state.position++];
}

function healthBody(status, services) {
  return {
    status,
    timestamp: new Date().toISOString(),
    services: { database: 'connected', redis: 'connected', midnight: 'connected', ...services },
    releaseId,
  };
}

function send(res, code, body) {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-release-id': releaseId,
    ...(shuttingDown ? { connection: 'close' } : {}),
  });
  res.end(text);
}

function health(res) {
  const mode = nextMode();
  switch (mode) {
    case 'unavailable':
      return send(res, 503, healthBody('unhealthy', { database: 'disconnected' }));
    case 'unhealthy':
      return send(res, 200, healthBody('unhealthy', {}));
    case 'disconnected':
      return send(res, 200, healthBody('healthy', { redis: 'disconnected' }));
    case 'slow':
      return setTimeout(() => send(res, 200, healthBody('healthy', {})), state.slowMs);
    default:
      return send(res, 200, healthBody('healthy', {}));
  }
}

function control(req, res) {
  let text = '';
  req.on('data', (chunk) => (text += chunk));
  req.on('end', () => {
    try {
      const change = JSON.parse(text || '{}');
      if (change.mode) state.mode = change.mode;
      if (change.slowMs !== undefined) state.slowMs = Number(change.slowMs);
      state.sequence = Array.isArray(change.sequence) ? change.sequence : [];
      state.cycle = Boolean(change.cycle);
      state.position = 0;
      send(res, 200, { ok: true, mode: state.mode, sequence: state.sequence });
    } catch (error) {
      send(res, 400, { ok: false, error: String(error) });
    }
  });
}

let shuttingDown = false;
function handler(req, res) {
  if (req.method === 'GET' && req.url === '/health') return health(res);
  if (req.method === 'POST' && req.url === '/__sandbox/behaviour') return control(req, res);
  if (req.method === 'GET' && req.url === '/keys') return send(res, 200, keyFingerprints());
  if (req.method === 'GET' && req.url === '/flags') return send(res, 200, featureFlags());
  if (req.method === 'GET' && req.url === '/redirect') {
    res.writeHead(302, { location: '/health' });
    return res.end();
  }
  if (req.method === 'GET' && (req.url === '/' || req.url === '/api/ping'))
    return send(res, 200, { ok: true, releaseId });
  send(res, 404, { error: 'not found' });
}

const tls = process.env.TLS_CERT_FILE && process.env.TLS_KEY_FILE;
const server = tls
  ? https.createServer(
      { cert: fs.readFileSync(process.env.TLS_CERT_FILE), key: fs.readFileSync(process.env.TLS_KEY_FILE) },
      handler,
    )
  : http.createServer(handler);
server.keepAliveTimeout = 5000;

// Graceful shutdown as a well-behaved app does it for keep-alive clients. Closing the listener at
// once would (Node ≥ 19) also close every idle keep-alive connection at once, and a client that is
// sending on one at that instant gets ECONNRESET — measured here as bursts of ~40 resets in about
// one pm2 cluster reload in four. So: first a short drain (200 ms: under load every keep-alive
// client sends within it) in which every answer carries
// `connection: close` (each client reconnects, in cluster mode to the new worker), then stop
// accepting and close what is left, and exit once all connections are closed.
function shutdown(signal) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log(`sample app ${releaseId}: ${signal}, draining, then closing`);
  setTimeout(() => server.close(() => process.exit(0)), Number(process.env.SAMPLE_DRAIN_MS || 200)).unref();
  setTimeout(() => process.exit(0), Number(process.env.SAMPLE_KILL_AFTER_MS || 4000)).unref();
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));

if (state.mode === 'no-listen') {
  console.error(`sample app ${releaseId}: running, never listening (SAMPLE_MODE=no-listen)`);
  setInterval(() => undefined, 60_000);
} else
  server.listen(Number(process.env.PORT || 3000), process.env.HOST || '127.0.0.1', () => {
    console.log(`sample app ${releaseId} listening on ${process.env.PORT || 3000} (mode ${state.mode})`);
    if (process.send) process.send('ready');
    if (state.mode === 'crash-loop') {
      setTimeout(() => {
        console.error(`sample app ${releaseId}: crashing (SAMPLE_MODE=crash-loop)`);
        process.exit(1);
      }, crashAfterMs);
    }
  });
