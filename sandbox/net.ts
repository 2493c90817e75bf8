/** Loopback ports and readiness waits for the sandbox's services. */
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';

/** A port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
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
