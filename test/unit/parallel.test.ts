/** How work spreads over the fleet (fleet/parallel.ts): the bounded pool, and canary-then-batches. */
import { describe, expect, it } from '@jest/globals';
import {
  batchesOf,
  describeBatches,
  gate,
  inParallel,
  mapInParallel,
} from '../../shared/src/fleet/parallel.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('gate', () => {
  it('lets at most its limit through at once, a failure freeing its place', async () => {
    const through = gate(2);
    let running = 0;
    let peak = 0;
    const settled = await Promise.allSettled(
      [3, 1, 2, 1, 1].map((ms, i) =>
        through(async () => {
          peak = Math.max(peak, ++running);
          await tick(ms * 5);
          running--;
          if (i === 1) throw new Error('second');
          return i;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(settled.map((r) => (r.status === 'fulfilled' ? r.value : 'x'))).toEqual([0, 'x', 2, 3, 4]);
  });
});

describe('inParallel', () => {
  it('never runs more than the limit at once, and settles every item in item order', async () => {
    let running = 0;
    let peak = 0;
    const settled = await inParallel([5, 1, 4, 2, 3, 0, 6], 3, async (ms, i) => {
      peak = Math.max(peak, ++running);
      await tick(ms * 3);
      running--;
      if (i === 2) throw new Error('third');
      return i;
    });
    expect(peak).toBe(3);
    expect(settled.map((r) => (r.status === 'fulfilled' ? r.value : 'x'))).toEqual([0, 1, 'x', 3, 4, 5, 6]);
  });

  it('a slow item does not hold back the others (a pool, not batches)', async () => {
    const done: number[] = [];
    await inParallel([60, 1, 1, 1, 1], 2, async (ms, i) => {
      await tick(ms);
      done.push(i);
    });
    expect(done.at(-1)).toBe(0);
  });

  it('mapInParallel throws the first failure in item order', async () => {
    await expect(
      mapInParallel([1, 2, 3], 3, async (n) => {
        await tick(10 - n * 3);
        if (n > 1) throw new Error(`item ${n}`);
        return n;
      }),
    ).rejects.toThrow('item 2');
  });
});

describe('batchesOf', () => {
  const hosts = Array.from({ length: 20 }, (_, i) => i);

  it('the canary alone first, then batches of max-parallel', () => {
    const batches = batchesOf(hosts, { canary: 1, maxParallel: 5 });
    expect(batches.map((b) => b.length)).toEqual([1, 5, 5, 5, 4]);
    expect(batches.flat()).toEqual(hosts);
  });

  it('canary 0 skips it; a canary larger than the fleet is the whole fleet', () => {
    expect(batchesOf(hosts, { canary: 0, maxParallel: 10 }).map((b) => b.length)).toEqual([10, 10]);
    expect(batchesOf([1, 2], { canary: 5, maxParallel: 1 })).toEqual([[1, 2]]);
    expect(batchesOf([], { canary: 1, maxParallel: 1 })).toEqual([]);
  });

  it('says the plan in words', () => {
    expect(describeBatches(20, { canary: 1, maxParallel: 5 })).toBe(
      'one canary host first, alone, then batches of 5',
    );
    expect(describeBatches(1, { canary: 1, maxParallel: 5 })).toBe('the one host alone');
    expect(describeBatches(3, { canary: 0, maxParallel: 2 })).toBe('batches of 2');
  });
});
