/**
 * A sample API built the way real TypeScript APIs are, for the sandbox: compiled by tsc into dist/,
 * started by `npm start` (`node dist/index.js`), its .env loaded by dotenv from beside the build output
 * (`path.join(__dirname, '../.env')`), `/health` answering `{"status":"ok"}` with no version, no
 * `<NAME>_PREVIOUS` support. It keeps a PostgreSQL pool and a Redis client that gives up after a few
 * reconnects (every command then fails with "The client is closed" while /health stays 200), polls
 * Redis in the background, and logs one line per request (`METHOD path status ms`), as morgan does.
 */
import http from 'node:http';
import path from 'node:path';
import dotenv from 'dotenv';
import { Pool } from 'pg';
import { createClient } from 'redis';

dotenv.config({ path: path.join(__dirname, '../.env'), quiet: true });

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const jwtSecret = process.env.JWT_SECRET ?? '';
const pool = process.env.DATABASE_URL
  ? new Pool({ connectionString: process.env.DATABASE_URL, max: 2 })
  : undefined;
const redis = process.env.REDIS_URL
  ? createClient({
      url: process.env.REDIS_URL,
      // Gives up after three reconnects, as many production clients are configured to.
      socket: { reconnectStrategy: (retries: number) => (retries > 3 ? new Error('redis: giving up') : 100) },
    })
  : undefined;
redis?.on('error', (error: Error) => console.error(`redis error: ${error.message}`));
void redis?.connect().catch((error: Error) => console.error(`redis connect failed: ${error.message}`));

// The background poller: a job queue ping, every second.
const poller = setInterval(() => {
  redis?.ping().catch((error: Error) => console.error(`poller: ${error.message}`));
}, 1000);

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function register(): Promise<[number, unknown]> {
  if (jwtSecret.length < 16) return [500, { error: 'JWT_SECRET is not configured' }];
  if (redis) await redis.set(`register:${Date.now()}`, '1', { EX: 60 });
  if (pool) await pool.query('SELECT 1');
  return [201, { ok: true }];
}

const server = http.createServer((req, res) => {
  const started = process.hrtime.bigint();
  res.on('finish', () => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    console.log(`${req.method} ${req.url} ${res.statusCode} ${ms.toFixed(3)} ms`);
  });
  const route = `${req.method} ${req.url}`;
  if (route === 'GET /health') return send(res, 200, { status: 'ok', timestamp: new Date().toISOString() });
  if (route === 'POST /api/auth/login') return send(res, 401, { error: 'invalid credentials' });
  if (route === 'POST /api/auth/register') {
    register().then(
      ([status, body]) => send(res, status, body),
      (error: Error) => {
        console.error(`register failed: ${error.message}`);
        send(res, 400, { error: error.message });
      },
    );
    return;
  }
  send(res, 404, { error: 'not found' });
});
server.listen(port, host, () => console.log(`listening on ${host}:${port}`));

function shutdown(): void {
  clearInterval(poller);
  server.close(() => {
    void Promise.allSettled([pool?.end(), redis?.isOpen ? redis.quit() : undefined]).then(() =>
      process.exit(0),
    );
  });
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
