/**
 * A gigabyte streamed through Node (pg_dump's archive into zstd, and back on a restore) allocates a
 * fresh Buffer for every read and every compressed block. Their memory lives outside V8's heap, and
 * V8 frees it only when a garbage collection finds the Buffers dead: with a heap this small that
 * waits for its external-memory limit (64 MB), so the process's RSS rises by that much whatever the
 * stream's own buffering. A young-generation collection every few megabytes frees those Buffers
 * (they die young) at a cost of well under a millisecond each — what jest's leak detector also does
 * to reach the collector: `--expose-gc` set at run time, `gc` taken from a fresh context.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Collect = (options: { type: 'minor' }) => void;

let collector: Collect | null | undefined;

/** V8's collector, or null where it cannot be reached (then nothing is collected early). */
function youngCollector(): Collect | null {
  if (collector !== undefined) return collector;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    collector = typeof gc === 'function' ? (gc as Collect) : null;
  } catch {
    collector = null;
  }
  return collector;
}

/** Measured on 1 GB through zstd: every 2 MB keeps Buffers under ~10 MB for ~100 ms of collections. */
export const COLLECT_EVERY_BYTES = 2 * 1_048_576;

/** A pass-through that collects young garbage after every `everyBytes` bytes that went by. */
export class BoundedBufferChurn extends Transform {
  private since = 0;
  private readonly collect = youngCollector();
  /** How many collections it asked for. */
  collections = 0;
  constructor(private readonly everyBytes = COLLECT_EVERY_BYTES) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.since += chunk.length;
    if (this.collect && this.since >= this.everyBytes) {
      this.since = 0;
      this.collect({ type: 'minor' });
      this.collections++;
    }
    done(null, chunk);
  }
}
