/** What the health gate asks of the served version (versionExpectation in releases/switch-verify.ts). */
import { describe, expect, it } from '@jest/globals';
import { versionExpectation } from '../../shared/src/releases/switch-verify.js';
import type { ReleaseTarget } from '../../shared/src/releases/host-run.js';
import type { ProbeRecord } from '../../shared/src/health/probe.js';

const target = (versionCheck: ReleaseTarget['versionCheck'], expectedVersion?: string) =>
  ({ versionCheck, health: { expectedVersion } }) as unknown as ReleaseTarget;
const served = (version?: string) => ({ ok: true, version }) as unknown as ProbeRecord;
const SHA = 'a'.repeat(40);

describe('versionExpectation', () => {
  it('auto: required when the release before served a version, else only checked when served', () => {
    expect(versionExpectation(target('auto'), SHA, served('b'.repeat(40)))).toEqual({
      expectedVersion: SHA,
      versionCheck: 'require',
    });
    expect(versionExpectation(target('auto'), SHA, served(undefined))).toEqual({
      expectedVersion: SHA,
      versionCheck: 'auto',
    });
    expect(versionExpectation(target('auto'), SHA, undefined)).toEqual({
      expectedVersion: SHA,
      versionCheck: 'auto',
    });
  });

  it('auto with expected-version, and require, always require; off never checks', () => {
    expect(versionExpectation(target('auto', 'v1.2.3'), SHA, undefined)).toEqual({
      expectedVersion: 'v1.2.3',
      versionCheck: 'require',
    });
    expect(versionExpectation(target('require'), SHA, undefined)).toEqual({
      expectedVersion: SHA,
      versionCheck: 'require',
    });
    expect(versionExpectation(target('off', 'v1'), SHA, served('x'))).toEqual({
      expectedVersion: undefined,
      versionCheck: undefined,
    });
  });

  it('nothing to check without a sha or expected-version (ops restart, rotation)', () => {
    expect(versionExpectation(target('auto'), undefined, served('x'))).toEqual({
      expectedVersion: undefined,
      versionCheck: undefined,
    });
  });
});
