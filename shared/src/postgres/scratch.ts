/**
 * A throwaway database on the scratch server (a workflow's service container): made from template0,
 * used, and dropped whatever happened — for a restore test and for a migration rehearsal.
 */
import { randomBytes } from 'node:crypto';
import { OperationError, errorText } from '../errors.js';
import { quoteIdent } from './database-url.js';
import type { Endpoint } from './endpoint.js';
import { DatabaseSession } from './session.js';

export async function withScratchDatabase<T>(
  scratch: Endpoint,
  prefix: string,
  use: (name: string) => Promise<T>,
): Promise<T> {
  const admin = await DatabaseSession.open(scratch.db, scratch.reach);
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  try {
    await admin.client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`);
    return await use(name);
  } finally {
    await dropScratch(admin, name);
    await admin.close();
  }
}

async function dropScratch(admin: DatabaseSession, name: string): Promise<void> {
  const major = (await admin.serverVersion().catch(() => ({ major: 13 }))).major;
  await admin.client
    .query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}${major >= 13 ? ' WITH (FORCE)' : ''}`)
    .catch((error: unknown) => {
      throw new OperationError(
        `Could not drop the scratch database ${name} on ${admin.db.host}: ${errorText(error)}.`,
        `drop it by hand: DROP DATABASE ${quoteIdent(name)};`,
      );
    });
}
