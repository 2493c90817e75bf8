/**
 * Reading a plain (SQL) dump as a stream: gunzipped when it is `.sql.gz`, the trailer pg_dump writes
 * last checked, and statements left out where the target cannot run them — ownership and privileges
 * on a scratch server that lacks production's roles (pg_restore's --no-owner --no-privileges for a
 * format that has no such switch), extensions the live target already has. COPY data passes untouched.
 */
import { createGunzip } from 'node:zlib';
import { createReadStream } from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';

export const DUMP_TRAILER = '-- PostgreSQL database dump complete';

export function openPlainDump(path: string, gzipped: boolean): Readable {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!gzipped) return file;
  const gunzip = createGunzip();
  file.on('error', (error) => gunzip.destroy(error));
  return file.pipe(gunzip);
}

/** Remembers the last bytes that passed, to check the trailer once the stream ends. */
export class TailWatch extends Transform {
  private tail = '';
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.tail = (this.tail + chunk.toString('latin1')).slice(-512);
    done(null, chunk);
  }
  get complete(): boolean {
    return this.tail.includes(DUMP_TRAILER);
  }
}

const OWNERSHIP = /^(ALTER [A-Z ]+ .* OWNER TO .*;|GRANT .*;|REVOKE .*;|ALTER DEFAULT PRIVILEGES .*;)$/;
const COPY_START = /^COPY .* FROM stdin;$/;

/** OWNER TO / GRANT / REVOKE lines: left out where production's roles do not exist. */
export function isOwnershipLine(line: string): boolean {
  return OWNERSHIP.test(line);
}

const EXTENSION_LINE =
  /^(?:DROP EXTENSION IF EXISTS|CREATE EXTENSION IF NOT EXISTS|COMMENT ON EXTENSION) ("(?:[^"]|"")+"|[a-z0-9_]+)[ ;]/;

/**
 * The statements that drop, create or comment on an extension the target already has: left out of
 * a restore over a live database, where the application's role may use an extension it does not own.
 */
export function extensionLineOf(existing: Set<string>): (line: string) => boolean {
  return (line) => {
    const match = EXTENSION_LINE.exec(line);
    if (!match) return false;
    const raw = match[1] as string;
    return existing.has(raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw);
  };
}

/**
 * Drops the statement lines `leaveOut` names, outside COPY blocks (data passes untouched). Lines are
 * cut at the byte 0x0a, which never occurs inside a multi-byte UTF-8 character. With `schemaOnly`,
 * everything after the first COPY passes through unexamined: the statements it filters all come before
 * the data, and a gigabyte of rows should not be split into lines for nothing.
 */
export class SqlLineFilter extends Transform {
  private partial: Buffer = Buffer.alloc(0);
  private inCopy = false;
  private passThrough = false;

  constructor(
    private readonly leaveOut: (line: string) => boolean,
    private readonly schemaOnly = false,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.passThrough) return done(null, chunk);
    const end = chunk.lastIndexOf(0x0a);
    if (end === -1) {
      this.partial = Buffer.concat([this.partial, chunk]);
      return done();
    }
    const lines = Buffer.concat([this.partial, chunk.subarray(0, end + 1)]).toString('utf8');
    this.partial = Buffer.from(chunk.subarray(end + 1));
    const kept = this.keep(lines);
    if (this.passThrough && this.partial.length > 0) {
      const rest = this.partial;
      this.partial = Buffer.alloc(0);
      return done(null, Buffer.concat([Buffer.from(kept), rest]));
    }
    done(null, kept);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.passThrough ? this.partial : this.keep(this.partial.toString('utf8')));
  }

  private keep(block: string): string {
    const out: string[] = [];
    for (const line of block.split('\n')) {
      if (this.inCopy || this.passThrough) {
        if (line === '\\.') this.inCopy = false;
        out.push(line);
      } else if (COPY_START.test(line)) {
        this.inCopy = true;
        if (this.schemaOnly) this.passThrough = true;
        out.push(line);
      } else if (!this.leaveOut(line)) {
        out.push(line);
      }
    }
    return out.join('\n');
  }
}

/** Statements a role that uses but does not own an extension cannot run: left out of our plain dumps. */
export function isExtensionOwnerOnlyLine(line: string): boolean {
  return /^(DROP EXTENSION IF EXISTS |COMMENT ON EXTENSION )/.test(line);
}
