/**
 * `.rotations.json` beside each host's env file (`<app-dir>/shared/.rotations.json` in the releases
 * layout): which secret was rotated when, by whom, with what fingerprint — never a value — and the
 * rotation under way, written on every host before the first host changes. A run that dies midway
 * leaves that journal behind; the next run reads it to finish the same rotation instead of starting
 * a second one (see plan.ts).
 */
import type { SshSession } from '../ssh/session.js';
import { readRemoteFile, replaceRemoteFile } from '../envfile/remote.js';

export interface RotationEntry {
  fingerprint: string;
  previous_fingerprint?: string;
  rotated_at: string;
  by?: string;
  run?: string;
  /** When `retire-previous` removed the grace value. */
  previous_retired_at?: string;
}

export interface PendingRotation {
  fingerprint: string;
  previous_fingerprint?: string;
  started_at: string;
  by?: string;
  run?: string;
}

export interface RotationRecord {
  version: 1;
  secrets: Record<string, RotationEntry>;
  pending: Record<string, PendingRotation>;
}

export const emptyRecord = (): RotationRecord => ({ version: 1, secrets: {}, pending: {} });

export function recordPath(envFile: string): string {
  const slash = envFile.lastIndexOf('/');
  return `${slash > 0 ? envFile.slice(0, slash) : ''}/.rotations.json`;
}

/** The record, or an empty one; a file that is not ours (unreadable JSON) is refused, not overwritten. */
export function parseRecord(text: string | undefined, where: string): RotationRecord {
  if (text === undefined || text.trim() === '') return emptyRecord();
  let parsed: Partial<RotationRecord>;
  try {
    parsed = JSON.parse(text) as Partial<RotationRecord>;
  } catch {
    throw new Error(`${where} is not JSON; move it aside if it is not this suite's record`);
  }
  return { version: 1, secrets: { ...parsed.secrets }, pending: { ...parsed.pending } };
}

export async function readRecord(session: SshSession, path: string): Promise<RotationRecord> {
  const text = await readRemoteFile(session, 'read the rotation record', path);
  return parseRecord(text, `${session.name}:${path}`);
}

export async function writeRecord(session: SshSession, path: string, record: RotationRecord): Promise<void> {
  await replaceRemoteFile(session, 'write the rotation record', path, `${JSON.stringify(record, null, 2)}\n`);
}

/** Reads, changes and writes the record (one host, under the deploy lock: no one else writes it). */
export async function updateRecord(
  session: SshSession,
  path: string,
  change: (record: RotationRecord) => void,
): Promise<RotationRecord> {
  const record = await readRecord(session, path);
  change(record);
  await writeRecord(session, path, record);
  return record;
}
