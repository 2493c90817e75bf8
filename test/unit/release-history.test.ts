/** What the release log makes of each release, free-space judgement, and header credential masking. */
import { describe, expect, it } from '@jest/globals';
import { maskHeaderValue } from '../../shared/src/health/inputs.js';
import { formatBytes } from '../../shared/src/config/parse.js';
import { notEnoughSpace, spaceNeeded } from '../../shared/src/releases/disk.js';
import { describeHolder, heartbeatInterval } from '../../shared/src/fleet/lease.js';
import {
  parseState,
  previousGood,
  readHistory,
  type ReleaseLogEntry,
} from '../../shared/src/releases/store.js';

const A = '20261101T000000Z-aaaaaaa';
const B = '20261102T000000Z-bbbbbbb';
const C = '20261103T000000Z-ccccccc';
const D = '20261104T000000Z-ddddddd';

const entry = (release: string, outcome: ReleaseLogEntry['outcome'], extra: Partial<ReleaseLogEntry> = {}) =>
  ({ time: '', host: 'h', release, outcome, ...extra }) as ReleaseLogEntry;

function stateOf(lines: string[]): ReturnType<typeof parseState> {
  return parseState(lines.join('\n'));
}

describe('release history', () => {
  it('counts deployed, restored, migrated and verified rollbacks as live; switched and unverified rollbacks not', () => {
    const history = readHistory([
      entry(A, 'deployed'),
      entry(B, 'switched', { from: A }),
      entry(C, 'rollback', { verified: false }),
      entry(D, 'rollback', { verified: true }),
    ]);
    expect(history.get(A)?.live).toBe(true);
    expect(history.get(B)?.live).toBe(false);
    expect(history.get(C)?.live).toBe(false);
    expect(history.get(D)?.live).toBe(true);
  });

  it('adopts a release that served before we came (only ever a `from`), not one we switched to', () => {
    const history = readHistory([entry(B, 'switched', { from: A }), entry(B, 'deployed', { from: A })]);
    expect(history.get(A)).toMatchObject({ live: true, adopted: true });
    expect(readHistory([entry(A, 'switched'), entry(B, 'switched', { from: A })]).get(A)?.live).toBe(false);
  });

  it('keeps a bad mark from the log even when the directory has no BAD_RELEASE', () => {
    const state = stateOf([
      'layout releases',
      `current\treleases/${C}`,
      `release\t${A}\tok\t`,
      `release\t${B}\tok\t`,
      `release\t${C}\tok\t`,
      'log-lines',
      JSON.stringify(entry(A, 'deployed')),
      JSON.stringify(entry(B, 'deployed')),
      JSON.stringify(entry(B, 'bad')),
      JSON.stringify(entry(C, 'deployed')),
      '{"torn line',
    ]);
    expect(state.releases.find((r) => r.id === B)).toMatchObject({ bad: true, live: true });
    expect(previousGood(state)?.id).toBe(A);
  });

  it('never picks a release that never went live, even if it is the newest before current', () => {
    const state = stateOf([
      'layout releases',
      `current\treleases/${C}`,
      `release\t${A}\tok\t`,
      `release\t${B}\tok\t`,
      `release\t${C}\tok\t`,
      'log-lines',
      JSON.stringify(entry(A, 'deployed')),
      JSON.stringify(entry(B, 'preparing')),
      JSON.stringify(entry(C, 'deployed', { from: A })),
    ]);
    expect(state.releases.find((r) => r.id === B)).toMatchObject({ live: false, known: true });
    expect(previousGood(state)?.id).toBe(A);
  });

  it("reads REVISION's first line, at most 64 characters, a tab in it dropped", () => {
    const state = stateOf([
      'layout releases',
      `release\t${A}\tok\tabc\t123`,
      `release\t${B}\tbad\t${'f'.repeat(80)}`,
      `release\t${C}\tok\t`,
    ]);
    expect(state.releases.map((r) => [r.sha, r.bad])).toEqual([
      ['abc123', false],
      ['f'.repeat(64), true],
      [undefined, false],
    ]);
  });

  it('reads a current whose directory is gone, symlinked parts and free space', () => {
    const state = stateOf([
      'free\t2048',
      'symlink\treleases\t/elsewhere',
      'layout releases',
      `current\treleases/${D}`,
      'current-missing',
    ]);
    expect(state).toMatchObject({
      current: D,
      currentMissing: true,
      freeBytes: 2048 * 1024,
      symlinks: [{ name: 'releases', target: '/elsewhere' }],
    });
  });
});

describe('disk space', () => {
  it('needs the upload and the unpacked tree together, plus a margin', () => {
    const size = { packedBytes: 10 * 1024 * 1024, unpackedBytes: 30 * 1024 * 1024 };
    expect(spaceNeeded(size)).toBeGreaterThan(40 * 1024 * 1024);
    expect(notEnoughSpace('h', '/app', size, 100 * 1024 * 1024)).toBeUndefined();
    expect(notEnoughSpace('h', '/app', size, 20 * 1024 * 1024)?.message).toMatch(
      /^not enough disk space on h: need 43\.\d MiB \(upload 10\.0 MiB \+ unpacked 30\.0 MiB \+ margin\), have 20\.0 MiB free for \/app\. Nothing was changed\.$/,
    );
    expect(formatBytes(3 * 1024 * 1024 * 1024)).toBe('3.0 GiB');
  });
});

describe('leases', () => {
  it('beats several times within the grace', () => {
    expect(heartbeatInterval(30_000)).toBe(5000);
    expect(heartbeatInterval(2000)).toBe(500);
  });

  it('names what the holder is doing and who it is', () => {
    expect(
      describeHolder({
        operation: 'deploy',
        description: 'CI run 7 attempt 1',
        actor: 'alice',
        runUrl: 'https://x/7',
      }),
    ).toBe('deploy in CI run 7 attempt 1 by alice (https://x/7)');
    expect(describeHolder({ operation: 'rollback', description: 'rollback run 9 attempt 1' })).toBe(
      'rollback run 9 attempt 1',
    );
    expect(describeHolder({})).toBe('an unknown holder');
  });
});

describe('header credentials', () => {
  it('masks the whole value, the bare credential, and a Basic credential decoded', () => {
    const masked: string[] = [];
    maskHeaderValue({ mask: (s) => void masked.push(s) }, 'Bearer tok-123');
    expect(masked).toEqual(['Bearer tok-123', 'tok-123']);
    masked.length = 0;
    const basic = Buffer.from('ops:s3cret').toString('base64');
    maskHeaderValue({ mask: (s) => void masked.push(s) }, `Basic ${basic}`);
    expect(masked).toEqual([`Basic ${basic}`, basic, 'ops:s3cret', 's3cret']);
    masked.length = 0;
    maskHeaderValue({ mask: (s) => void masked.push(s) }, 'plainvalue');
    expect(masked).toEqual(['plainvalue']);
  });
});
