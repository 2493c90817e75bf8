/**
 * Connecting for a procedure: the endpoint (direct or tunnelled), a session, the server's version and
 * client tools new enough for it — checked before anything is written or changed.
 */
import type { Log } from '../log.js';
import { findClientTools } from './client-tools.js';
import type { DatabaseUrl } from './database-url.js';
import type { Connected } from './dump.js';
import { openEndpoint, type SshRoute } from './endpoint.js';
import { DatabaseSession } from './session.js';

export interface DatabaseAccess {
  db: DatabaseUrl;
  via?: SshRoute;
  /** Where pg_dump, pg_restore and psql are; undefined: found on PATH or under /usr/lib/postgresql. */
  binDir?: string;
}

/** Opens everything; `needMajor` raises the tool version needed (an archive written by a newer pg_dump). */
export async function connectDatabase(access: DatabaseAccess, log: Log, needMajor = 0): Promise<Connected> {
  const endpoint = await openEndpoint(access.db, access.via, log);
  try {
    const session = await DatabaseSession.open(access.db, endpoint.reach);
    try {
      const server = await session.serverVersion();
      const why =
        needMajor > server.major
          ? `the backup (written by pg_dump ${needMajor})`
          : `the server (PostgreSQL ${server.version})`;
      const tools = findClientTools(Math.max(server.major, needMajor), why, access.binDir);
      return { endpoint, session, server, tools };
    } catch (error) {
      await session.close();
      throw error;
    }
  } catch (error) {
    await endpoint.close();
    throw error;
  }
}

export async function disconnect(connected: Connected | undefined): Promise<void> {
  if (!connected) return;
  await connected.session.close();
  await connected.endpoint.close();
}
