/**
 * What a rotation will do, decided from what every host holds before anything changes. The rule
 * that makes a re-run after a crash converge: a rotation under way is journalled on every host
 * (record.ts) before the first host changes; when a run finds that journal, the value it names as
 * new is taken from a host that already holds it, and the value it names as previous stays the
 * previous — so the hosts end with one new value, never two. Hosts that disagree without such a
 * journal were edited by hand: refused, nothing changed.
 */
import { OperationError } from '../errors.js';
import type { PendingRotation } from './record.js';
import { fingerprint, fingerprintOf } from './value.js';

export interface HostValues {
  host: string;
  /** The value of NAME in the host's env file, undefined when the key is absent. */
  current?: string;
  /** The value of the grace key (`<NAME>_PREVIOUS`). */
  previous?: string;
  /** The journal of a rotation of NAME under way on this host. */
  pending?: PendingRotation;
}

export interface RotationDecision {
  newValue: string;
  /** The value every host held before: kept as the grace value. Undefined for a first value. */
  oldValue?: string;
  /** Every host already holds the new value (a provided value that is already current). */
  unchanged: boolean;
  /** The interrupted rotation this run finishes. */
  resumes?: PendingRotation;
  /** The new value comes from a host that got it in the interrupted run. */
  adopted: boolean;
}

const fp = fingerprintOf;

function drift(name: string, hosts: HostValues[], why: string): OperationError {
  return new OperationError(
    `The hosts hold different values of ${name} (${hosts.map((h) => `${h.host}: ${fp(h.current)}`).join(', ')}): ${why} Nothing was changed.`,
    `find out which value is right (fingerprints are the first 8 hex of each value's sha256), set it on every host (or rotate with \`value:\`), then run again.`,
  );
}

export function decideRotation(
  name: string,
  hosts: HostValues[],
  provided: string | undefined,
  generate: () => string,
): RotationDecision {
  const pending = hosts
    .map((h) => h.pending)
    .filter((p): p is PendingRotation => p !== undefined)
    .sort((a, b) => a.started_at.localeCompare(b.started_at))
    .at(-1);
  if (!pending) {
    const values = new Set(hosts.map((h) => fp(h.current)));
    if (values.size > 1)
      throw drift(name, hosts, 'no rotation of this suite was under way, so they were edited by hand.');
    const oldValue = hosts[0]?.current;
    if (provided !== undefined && provided === oldValue)
      return { newValue: provided, oldValue: hosts[0]?.previous, unchanged: true, adopted: false };
    return {
      newValue: provided ?? generate(),
      ...(oldValue !== undefined ? { oldValue } : {}),
      unchanged: false,
      adopted: false,
    };
  }
  const isNew = (v: string | undefined) => v !== undefined && fingerprint(v) === pending.fingerprint;
  const isOld = (v: string | undefined) =>
    pending.previous_fingerprint === undefined
      ? v === undefined
      : v !== undefined && fingerprint(v) === pending.previous_fingerprint;
  const strangers = hosts.filter((h) => !isNew(h.current) && !isOld(h.current));
  if (strangers.length > 0)
    throw drift(
      name,
      hosts,
      `a rotation from ${fp(pending.previous_fingerprint)} to ${pending.fingerprint} (started ${pending.started_at}${pending.run ? `, ${pending.run}` : ''}) was interrupted, and ${strangers.map((h) => h.host).join(', ')} hold${strangers.length === 1 ? 's' : ''} neither value.`,
    );
  const oldValue =
    hosts.find((h) => isOld(h.current))?.current ??
    hosts.find((h) => isNew(h.current) && isOld(h.previous))?.previous;
  if (pending.previous_fingerprint !== undefined && oldValue === undefined)
    throw new OperationError(
      `A rotation of ${name} to ${pending.fingerprint} was interrupted, and the value it replaced (${pending.previous_fingerprint}) is on no host any more, neither as ${name} nor as its grace value. Nothing was changed.`,
      `restore the env file from its newest .bak-* on each host, or rotate with \`value:\` after removing the "pending" entry from .rotations.json.`,
    );
  const holder = hosts.find((h) => isNew(h.current))?.current;
  const newValue = provided ?? holder ?? generate();
  return {
    newValue,
    ...(oldValue !== undefined ? { oldValue } : {}),
    unchanged: false,
    resumes: pending,
    adopted: provided === undefined && holder !== undefined,
  };
}
