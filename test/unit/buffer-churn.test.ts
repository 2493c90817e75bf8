import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import { BoundedBufferChurn } from '../../shared/src/postgres/buffer-churn.js';

describe('BoundedBufferChurn', () => {
  it('passes every byte through unchanged and collects young garbage every few megabytes', async () => {
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(65_536, i));
    const churn = new BoundedBufferChurn(1_048_576);
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks), churn, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out.push(chunk);
    });
    expect(Buffer.concat(out).equals(Buffer.concat(chunks))).toBe(true);
    // 4 MiB went by: a collection after each MiB.
    expect(churn.collections).toBe(4);
    expect(await buffer(Readable.from([]).pipe(new BoundedBufferChurn()))).toHaveLength(0);
  });
});
