/**
 * The deploy lock as a lease on the host, kept alive by a heartbeat. The lease file names its
 * holder (run, actor, what it is doing); it is created with link(2), which fails if the file
 * exists, so two runs cannot both hold it. The holder touches the file every few seconds while it
 * works; the file's age is read on the host's own clock (no clock skew between runner and host).
 *
 * A lease whose heartbeat is younger than the grace belongs to a live run, however long that run
 * takes (a big install, many hosts): it is never overtaken. One whose heartbeat is older belongs to
 * a dead run (cancelled job, killed runner): it is taken over at once, with a warning naming that
 * run — the lesson of Deployer's stuck locks, without its timeouts that break long deploys.
 */
import { randomBytes } from 'node:crypto';
import { SafetyRefusal, errorText } from '../errors.js';
import type { Log } from '../log.js';
import { throwIfCancelled } from '../cancel.js';
import { sleepUnlessAborted } from '../retry/backoff.js';
import type { SshSession } from '../ssh/session.js';
import { sh, type ShellCommand } from '../ssh/shell.js';
import type { Holder } from '../result.js';

export type { Holder } from '../result.js';

export interface Lease extends Holder {
  token: string;
  /** `deploy` or `rollback`: what the holder is doing. */
  operation: string;
  acquiredAt: string;
  /** The release the holder is preparing, once known: a dead holder's half-made release is marked abandoned. */
  release?: string;
  /** The grace its holder promised to beat within: whoever finds the lease judges it by this. */
  graceMs: number;
}

/** Where the lease lives in an app directory: `<app-dir>/.runbook/deploy.lock`, beside the release log. */
export interface LeasePaths {
  meta: string;
  lock: string;
  /** The release log: what a run that took the lease over did is read there. */
  log: string;
}

export function leasePaths(appDir: string): LeasePaths {
  const meta = `${appDir.replace(/\/+$/, '')}/.runbook`;
  return { meta, lock: `${meta}/deploy.lock`, log: `${meta}/releases.log` };
}

export interface LeasePolicy {
  /** A heartbeat older than this means the holder is dead. */
  graceMs: number;
  /** How long to wait for a live holder to finish before refusing. */
  waitMs: number;
}

/** A lease found on the host: what its file says and how old its heartbeat is. */
export interface FoundLease {
  lease: Partial<Lease>;
  ageMs: number;
}

export class LeaseHeld extends SafetyRefusal {}

export function describeHolder(lease: Partial<Lease>): string {
  const who = [
    lease.operation && lease.description && !lease.description.startsWith(lease.operation)
      ? `${lease.operation} in ${lease.description}`
      : (lease.description ?? lease.operation),
    lease.actor ? `by ${lease.actor}` : '',
    lease.runUrl ? `(${lease.runUrl})` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return who || 'an unknown holder';
}

/** How often the holder touches its lease: often enough that a few missed beats are not death. */
export function heartbeatInterval(graceMs: number): number {
  return Math.max(200, Math.min(5000, Math.floor(graceMs / 4)));
}

function parseFound(text: string): FoundLease {
  const [age = '', ...rest] = text.split('\n');
  let lease: Partial<Lease> = {};
  try {
    lease = JSON.parse(rest.join('\n')) as Partial<Lease>;
  } catch {
    // Unreadable content: the heartbeat (file age) still tells whether its writer lives.
  }
  const seconds = Number(age);
  return { lease, ageMs: Number.isFinite(seconds) ? Math.max(0, seconds) * 1000 : Number.POSITIVE_INFINITY };
}

/** Prints the lock's heartbeat age in seconds (host clock) and its content. */
const showLock = (paths: LeasePaths) =>
  sh`echo $(( $(date +%s) - $(stat -c %Y -- ${paths.lock} 2>/dev/null || date +%s) )); cat -- ${paths.lock} 2>/dev/null`;

export async function acquireLease(
  session: SshSession,
  paths: LeasePaths,
  holder: Holder,
  operation: string,
  policy: LeasePolicy,
  log: Log,
  deps: { now?: () => Date; sleep?: (ms: number) => Promise<void>; signal?: AbortSignal } = {},
  /** Run right after the lock is taken, in the same command (one round trip less): its stdout is `read`. */
  thenRead?: ShellCommand,
): Promise<{ lease: Lease; tookOver?: FoundLease; read?: string }> {
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => sleepUnlessAborted(ms, deps.signal));
  const token = randomBytes(9).toString('hex');
  const lease: Lease = {
    ...holder,
    token,
    operation,
    acquiredAt: now().toISOString(),
    graceMs: policy.graceMs,
  };
  const mine = `${paths.meta}/lease-${token}`;
  const waitUntil = Date.now() + policy.waitMs;
  let tookOver: FoundLease | undefined;
  let waiting = false;
  for (;;) {
    const { stdout } = await session.run(
      `take the deploy lock for ${operation}`,
      sh`{ [ -d ${paths.meta} ] || mkdir -p -- ${paths.meta}; } && printf '%s' ${JSON.stringify(lease)} > ${mine} && if ln -- ${mine} ${paths.lock} 2>/dev/null; then rm -f -- ${mine}; echo acquired; ${thenRead ? sh`(${thenRead})` : sh`true`}; else rm -f -- ${mine}; echo held; ${showLock(paths)}; fi`,
    );
    if (stdout.startsWith('acquired'))
      return {
        lease,
        ...(tookOver ? { tookOver } : {}),
        ...(thenRead ? { read: stdout.slice('acquired\n'.length) } : {}),
      };
    const found = parseFound(stdout.replace(/^held\n/, ''));
    // The holder's own promise decides; a lease from an older version without one gets ours.
    const grace = typeof found.lease.graceMs === 'number' ? found.lease.graceMs : policy.graceMs;
    if (found.ageMs > grace) {
      log.warn(
        `${session.name}: taking over the deploy lock of a dead run — ${describeHolder(found.lease)}, whose heartbeat stopped ${Math.round(found.ageMs / 1000)} s ago (cancelled or crashed)`,
      );
      // rename(2) the dead lease aside: if two runs race for it, only one rename succeeds.
      await session.run(
        'set a dead run’s lock aside',
        sh`mv -- ${paths.lock} ${`${paths.lock}.dead-${token}`} && rm -f -- ${`${paths.lock}.dead-${token}`}`,
        { okCodes: [1] },
      );
      tookOver = found;
      continue;
    }
    throwIfCancelled(deps.signal);
    if (Date.now() < waitUntil) {
      if (!waiting)
        log.info(
          `${session.name}: ${describeHolder(found.lease)} holds the deploy lock (heartbeat ${Math.round(found.ageMs / 1000)} s ago); waiting up to ${Math.round(policy.waitMs / 1000)} s for it to finish`,
        );
      waiting = true;
      await sleep(Math.min(1000, Math.max(0, waitUntil - Date.now())));
      continue;
    }
    const verb = operation.charAt(0).toUpperCase() + operation.slice(1);
    throw new LeaseHeld(
      `${verb} refused on ${session.name}: ${describeHolder(found.lease)} holds the deploy lock and is alive (heartbeat ${Math.round(found.ageMs / 1000)} s ago). Nothing was changed.`,
      `wait for that run to finish and run the ${operation} again; a run that dies stops its heartbeat, and its lock is taken over ${Math.round(grace / 1000)} s later.`,
    );
  }
}

/** Touches the lease if it is still ours; false when another run has taken it over. */
export async function renewLease(session: SshSession, paths: LeasePaths, lease: Lease): Promise<boolean> {
  const { stdout } = await session.run(
    'renew the deploy lock',
    sh`if grep -qF -- ${lease.token} ${paths.lock} 2>/dev/null; then touch -c -- ${paths.lock}; echo mine; else echo lost; fi`,
  );
  return stdout.startsWith('mine');
}

/** Records what the holder is doing in its lease (for whoever finds it dead). */
export async function noteLease(session: SshSession, paths: LeasePaths, lease: Lease): Promise<void> {
  const next = `${paths.meta}/lease-${lease.token}.next`;
  await session.run(
    'note the release in the deploy lock',
    sh`if grep -qF -- ${lease.token} ${paths.lock} 2>/dev/null; then printf '%s' ${JSON.stringify(lease)} > ${next} && mv -f -- ${next} ${paths.lock}; fi`,
  );
}

/** Removes the lease if it is still ours (a dead one may have been taken over meanwhile). */
export async function releaseLease(session: SshSession, paths: LeasePaths, lease: Lease): Promise<void> {
  await session.run(
    'release deploy lock',
    sh`if grep -qF -- ${lease.token} ${paths.lock} 2>/dev/null; then rm -f -- ${paths.lock}; fi`,
  );
}

/**
 * Keeps a lease alive while its holder works. `session()` gives the current session (a restore
 * reconnects); a beat that cannot reach the host is skipped — its heartbeat then ages, which is the
 * truth. Once the lease is found taken over, `lost` says by whom, and mutating steps must stop.
 */
export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  lost?: string;

  constructor(
    private readonly session: () => SshSession | undefined,
    private readonly paths: LeasePaths,
    private readonly lease: Lease,
    intervalMs: number,
    private readonly log: Log,
  ) {
    this.timer = setInterval(() => {
      if (!this.beating) this.beating = this.beat().finally(() => (this.beating = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    const session = this.session();
    if (!session?.connected || this.lost) return;
    try {
      if (!(await renewLease(session, this.paths, this.lease))) {
        this.lost = 'another run took the deploy lock over';
        this.log.warn(`${session.name}: ${this.lost} while this run could not renew it`);
      }
    } catch (error) {
      this.log.debug(`${session.name}: heartbeat skipped (${errorText(error)})`);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
  }
}
