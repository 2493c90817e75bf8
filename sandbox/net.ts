/** Loopback ports and readiness waits for the sandbox's services. */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

/**
 * Ports handed out by freePort, claimed across processes by a file each (jest workers, benches run
 * side by side), so that no two hosts are ever given one port. A port is handed out long before
 * anything listens on it (an app's port is chosen when its host starts), so "free a moment ago"
 * is not enough: the kernel would give it again, to another host's sshd or to an outgoing connection.
 */
const CLAIMS = '/tmp/runbook-ports';
const claimed: string[] = [];
process.on('exit', () => claimed.forEach((file) => rmSync(file, { force: true })));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Claims the port for this process; reclaims a claim whose process is gone. */
function claim(port: number): boolean {
  const file = join(CLAIMS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      claimed.push(file);
      return true;
    } catch {
      const owner = Number(readFileSync(file, { encoding: 'utf8', flag: 'r' }) || 0);
      if (owner > 0 && alive(owner)) return false;
      rmSync(file, { force: true });
    }
  }
  return false;
}

/** The low end of the kernel's ephemeral range: ports below it are never picked for a connection. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A loopback port nobody else in the sandbox has been given and nothing listens on, below the
 * ephemeral range (so no outgoing connection takes it before its service listens).
 */
export async function freePort(): Promise<number> {
  mkdirSync(CLAIMS, { recursive: true });
  const high = ephemeralLow();
  const low = high - 10_000;
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (claim(port) && (await bindable(port))) return port;
  }
  throw new Error(`sandbox: no free port found between ${low} and ${high}`);
}

/** Resolves once something accepts TCP connections on the port; rejects after `ms`. */
export async function waitForPort(
  port: number,
  ms: number,
  what: string,
  /** The process that should listen: its exit ends the wait at once, with its exit status. */
  child?: ChildProcess,
): Promise<void> {
  const until = Date.now() + ms;
  let exited: string | undefined;
  const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
    exited = signal
      ? `killed by ${signal}`
      : `exit code ${code}${code === 127 ? ': the program is not installed' : ''}`;
  };
  const onError = (error: Error) => {
    exited = error.message;
  };
  child?.once('exit', onExit).once('error', onError);
  try {
    await poll();
  } finally {
    child?.off('exit', onExit).off('error', onError);
  }
  async function poll(): Promise<void> {
    while (Date.now() < until) {
      if (exited)
        throw new Error(`sandbox: ${what} ended before it listened on 127.0.0.1:${port} (${exited})`);
      const open = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (open) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`sandbox: ${what} did not listen on 127.0.0.1:${port} within ${ms} ms`);
  }
}
