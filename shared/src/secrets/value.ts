/**
 * A secret's new value and the only thing about a value that is ever shown: its fingerprint, the
 * first 8 hex digits of its sha256 (enough to tell two values apart in a plan or an audit, far
 * too little to guess one).
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { ConfigurationError } from '../errors.js';

export interface GenerateSpec {
  kind: 'base64' | 'hex' | 'alnum';
  /** Random bytes for base64 and hex (as `openssl rand -base64 64`), characters for alnum. */
  size: number;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function parseGenerate(input: string, raw: string): GenerateSpec {
  const match = /^(base64|hex|alnum):(\d{1,5})$/.exec(raw.trim());
  const size = Number(match?.[2]);
  if (!match || size < 16 || size > 4096) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not a generator; use base64:N or hex:N (N random bytes) or alnum:N (N characters), N from 16 to 4096, e.g. base64:64.`,
    );
  }
  return { kind: match[1] as GenerateSpec['kind'], size };
}

/** One line, never wrapped (openssl wraps base64 at 64 columns; a line break has no place in .env). */
export function generateValue(spec: GenerateSpec): string {
  if (spec.kind === 'base64') return randomBytes(spec.size).toString('base64');
  if (spec.kind === 'hex') return randomBytes(spec.size).toString('hex');
  // randomInt draws without modulo bias.
  return Array.from({ length: spec.size }, () => ALNUM[randomInt(ALNUM.length)]).join('');
}

export function describeGenerate(spec: GenerateSpec): string {
  return spec.kind === 'alnum'
    ? `${spec.size} random letters and digits`
    : `${spec.size} random bytes as ${spec.kind}`;
}

export function fingerprint(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex').slice(0, 8);
}

/** A fingerprint or a word saying there was no value. */
export function fingerprintOf(value: string | undefined): string {
  return value === undefined ? '(none)' : fingerprint(value);
}
