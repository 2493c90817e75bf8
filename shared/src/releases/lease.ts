/**
 * The deploy lock as a lease on the host: a file naming its holder (run, actor) and when it
 * expires. Created with link(2), which fails if the file exists, so two runs cannot both hold it.
 * A live lease refuses a second deploy naming the holder; an expired one (a cancelled job never
 * unlocks) is taken over with a warning — the lesson of Deployer's stuck locks.
 */
import { randomBytes } from 'node:crypto';
import { OperationError } from '../errors.js';
import type { Log } from '../log.js';
import type { SshSession } from '../ssh/session.js';
import { sh } from '../ssh/shell.js';
import type { AppPaths } from './layout.js';

export interface Holder {
  /** What holds it, e.g. `deploy run 123 attempt 1`. */
  description: string;
  actor?: string;
  runUrl?: string;
}

export interface Lease extends Holder {
  token: string;
  acquiredAt: string;
  expiresAt: string;
}

export class LeaseHeld extends OperationError {}

function describe(lease: Partial<Lease>): string {
  const who = [
    lease.description,
    lease.actor ? `by ${lease.actor}` : '',
    lease.runUrl ? `(${lease.runUrl})` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `${who || 'an unknown holder'}, until ${lease.expiresAt ?? 'an unknown time'}`;
}

export async function acquireLease(
  session: SshSession,
  paths: AppPaths,
  holder: Holder,
  ttlMs: number,
  log: Log,
  now = () => new Date(),
): Promise<Lease> {
  const token = randomBytes(9).toString('hex');
  for (let round = 0; round < 2; round++) {
    const lease: Lease = {
      ...holder,
      token,
      acquiredAt: now().toISOString(),
      expiresAt: new Date(now().getTime() + ttlMs).toISOString(),
    };
    const mine = `${paths.meta}/lease-${token}`;
    const { stdout } = await session.run(
      'take deploy lock',
      sh`mkdir -p -- ${paths.meta} && printf '%s' ${JSON.stringify(lease)} > ${mine} && if ln -- ${mine} ${paths.lock} 2>/dev/null; then rm -f -- ${mine}; echo acquired; else rm -f -- ${mine}; echo held; cat -- ${paths.lock} 2>/dev/null; fi`,
    );
    if (stdout.startsWith('acquired')) return lease;
    const text = stdout.replace(/^held\n/, '');
    let existing: Partial<Lease> = {};
    try {
      existing = JSON.parse(text) as Partial<Lease>;
    } catch {
      // An unreadable lock is treated as held: removing it is a human decision.
    }
    const expires = existing.expiresAt ? Date.parse(existing.expiresAt) : Number.NaN;
    if (Number.isNaN(expires) || expires > now().getTime() || round === 1) {
      throw new LeaseHeld(
        `Another deploy holds the lock on ${session.name}: ${describe(existing)}. Nothing was changed.`,
        `wait for it to finish, or if that run is dead and cannot wait for expiry, remove ${paths.lock} on the host by hand.`,
      );
    }
    log.warn(
      `${session.name}: taking over an expired deploy lock held by ${describe(existing)} (a cancelled or crashed run?)`,
    );
    // rename(2) the stale lease aside: if two runs race for it, only one rename succeeds.
    await session.run('set expired lock aside', sh`mv -- ${paths.lock} ${`${paths.lock}.expired-${token}`}`, {
      okCodes: [1],
    });
  }
  throw new Error('unreachable');
}

/** Removes the lease if it is still ours (an expired one may have been taken over meanwhile). */
export async function releaseLease(session: SshSession, paths: AppPaths, lease: Lease): Promise<void> {
  await session.run(
    'release deploy lock',
    sh`if grep -qF -- ${lease.token} ${paths.lock} 2>/dev/null; then rm -f -- ${paths.lock}; fi`,
  );
}
