/**
 * zstd from Node's own zlib (Node 22.15 / 23.8 and later; the runner's Node 24 has it): level 1 keeps
 * up with pg_dump on two cores where gzip does not. pg_dump 16+ compresses with zstd itself; an
 * older pg_dump writes an uncompressed custom archive that goes through this on its way to the file.
 */
import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { ConfigurationError } from '../errors.js';

// @types/node for Node 20 predates zlib's zstd; these are its signatures (Node 24 docs, zlib).
interface ZstdZlib {
  createZstdCompress?(options?: { params?: Record<number, number>; chunkSize?: number }): Transform;
  createZstdDecompress?(options?: { chunkSize?: number }): Transform;
  constants: { ZSTD_c_compressionLevel?: number };
}
const z = zlib as unknown as ZstdZlib;

export function zstdAvailable(): boolean {
  return typeof z.createZstdCompress === 'function' && typeof z.createZstdDecompress === 'function';
}

/** Refuses, naming the input, where this Node has no zstd. */
export function requireZstd(input: string): void {
  if (!zstdAvailable())
    throw new ConfigurationError(
      input,
      `zstd needs Node 22.15 or later (this is ${process.version}); the actions run on Node 24 — for the CLI, use a newer Node or gzip (compression: 0-9).`,
    );
}

export function zstdCompress(level: number): Transform {
  requireZstd('compression');
  const key = z.constants.ZSTD_c_compressionLevel ?? 100;
  return (z.createZstdCompress as NonNullable<ZstdZlib['createZstdCompress']>)({
    params: { [key]: level },
    // Measured on 1 GB, 2 cores: 64 KiB output chunks took 10.9 s, 256 KiB 6.1–6.8 s (raw COPY 7.3 s).
    chunkSize: 1 << 18,
  });
}

export function zstdDecompress(): Transform {
  requireZstd('backup');
  return (z.createZstdDecompress as NonNullable<ZstdZlib['createZstdDecompress']>)({ chunkSize: 1 << 16 });
}
