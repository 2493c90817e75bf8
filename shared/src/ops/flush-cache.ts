/**
 * Redis `FLUSHDB` of one database index — after reporting how many keys it holds, and only when
 * confirmed (the caller checks). Verified: the index holds 0 keys afterwards.
 */
import { OperationError } from '../errors.js';
import { pipeline, type Reply } from '../diagnose/redis.js';

export interface FlushResult {
  where: string;
  keysBefore: number;
  keysAfter?: number;
  flushed: boolean;
}

function authCommands(url: URL, db: number): string[][] {
  const password = decodeURIComponent(url.password);
  const user = decodeURIComponent(url.username);
  return [
    ...(password ? [user ? ['AUTH', user, password] : ['AUTH', password]] : []),
    ['SELECT', String(db)],
  ];
}

function answer(replies: Reply[], where: string): Reply[] {
  const refused = replies.find((r) => r instanceof Error);
  if (refused)
    throw new OperationError(
      `Redis at ${where} refused: ${(refused as Error).message}`,
      'check redis-url (password, database index).',
    );
  return replies;
}

export async function flushCache(
  url: URL,
  db: number,
  dryRun: boolean,
  timeoutMs: number,
): Promise<FlushResult> {
  const where = `${url.hostname}:${url.port || 6379} database ${db}`;
  const auth = authCommands(url, db);
  const reach = (commands: string[][]) =>
    pipeline(url, [...auth, ...commands], timeoutMs).catch((error: Error) => {
      throw new OperationError(
        `Redis at ${where} is not reachable: ${error.message}`,
        'check redis-url and that redis-server runs (`redis-cli ping`).',
      );
    });
  const before = answer(await reach([['DBSIZE']]), where).at(-1);
  const result: FlushResult = { where, keysBefore: Number(before), flushed: false };
  if (dryRun) return result;
  const after = answer(await reach([['FLUSHDB'], ['DBSIZE']]), where).at(-1);
  result.keysAfter = Number(after);
  result.flushed = true;
  if (result.keysAfter !== 0)
    throw new OperationError(
      `FLUSHDB of ${where} left ${result.keysAfter} keys (written meanwhile?)`,
      'run it again, or stop the writers first.',
    );
  return result;
}
