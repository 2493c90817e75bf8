/**
 * A Redis of the sandbox's own: `redis-server` from apt, on a free port under its own directory (never
 * the system service), no persistence, optionally a password; stopped by pid with the tracker.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './net.js';
import { ProcessTracker } from './processes.js';
import { ensureSystemPackages } from './system.js';

export interface SandboxRedis {
  port: number;
  /** `redis://:password@127.0.0.1:port/0` */
  url: string;
  password?: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startRedis(options: { password?: string } = {}): Promise<SandboxRedis> {
  ensureSystemPackages(['redis-server']);
  const dir = mkdtempSync(join(tmpdir(), 'runbook-redis-'));
  const port = await freePort();
  const tracker = new ProcessTracker();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--slowlog-log-slower-than',
    '10000',
    ...(options.password ? ['--requirepass', options.password] : []),
  ];
  const child = tracker.spawn('redis-server', 'redis-server', args);
  await waitForPort(port, 10_000, 'redis-server', child);
  return {
    port,
    url: `redis://${options.password ? `:${encodeURIComponent(options.password)}@` : ''}127.0.0.1:${port}/0`,
    ...(options.password ? { password: options.password } : {}),
    pid: child.pid as number,
    stop: () => tracker.stopAll(),
  };
}
