/**
 * Reaching the database: directly, or — when it listens only on the droplet — through an SSH
 * tunnel opened with the suite's SSH layer (same host-key pinning, retries and jump host). The
 * tunnel is a local TCP listener on 127.0.0.1 whose every connection becomes a direct-tcpip
 * channel to the URL's host and port, resolved on the droplet; pg_dump, psql and node-pg all
 * connect to it as to any server.
 */
import { createServer } from 'node:net';
import type net from 'node:net';
import type { Log } from '../log.js';
import { openSession, type SshOptions } from '../ssh/connect.js';
import type { SshSession } from '../ssh/session.js';
import { describeTarget, type SshTarget } from '../ssh/target.js';
import type { DatabaseUrl, Reach } from './database-url.js';

export interface SshRoute {
  host: SshTarget;
  ssh: SshOptions;
}

export interface Endpoint {
  db: DatabaseUrl;
  reach: Reach;
  /** How it is reached, for logs: `directly` or `through deploy@droplet`. */
  route: string;
  close(): Promise<void>;
}

export async function openEndpoint(db: DatabaseUrl, via: SshRoute | undefined, log: Log): Promise<Endpoint> {
  if (!via) return { db, reach: {}, route: 'directly', close: async () => undefined };
  const session = await openSession(via.host, via.ssh, log);
  try {
    const server = await listenForwarding(session, db.host, db.port);
    const address = server.address() as net.AddressInfo;
    log.info(
      `database ${db.host}:${db.port} reached through ${describeTarget(via.host)} (tunnel on 127.0.0.1:${address.port})`,
    );
    return {
      db,
      reach: { address: '127.0.0.1', port: address.port },
      route: `through ${describeTarget(via.host)}`,
      close: async () => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        session.close();
      },
    };
  } catch (error) {
    session.close();
    throw error;
  }
}

function listenForwarding(session: SshSession, host: string, port: number): Promise<net.Server> {
  const sockets = new Set<net.Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.pause();
    session.forward(host, port).then(
      (channel) => {
        channel.on('error', () => socket.destroy());
        socket.on('close', () => channel.destroy());
        channel.on('close', () => socket.destroy());
        socket.pipe(channel).pipe(socket);
        socket.resume();
      },
      () => socket.destroy(),
    );
  });
  // close() waits for open connections; the tools have exited by then, but a stray one must not hang us.
  const close = server.close.bind(server);
  server.close = (callback) => {
    for (const socket of sockets) socket.destroy();
    return close(callback);
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
