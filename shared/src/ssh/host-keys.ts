/**
 * Host-key pinning. A server's key is accepted only when it matches a `known_hosts` line for that
 * host (plain or hashed `|1|salt|hash` names, `[host]:port` for other ports) or a `SHA256:` fingerprint.
 */
import { createHash, createHmac } from 'node:crypto';
import { ConfigurationError } from '../errors.js';

export interface KnownHost {
  /** Host patterns as written: `host`, `[host]:port`, or a hashed `|1|salt|hash`. */
  names: string[];
  keyType: string;
  /** The key blob, base64 as in the file. */
  key: string;
}

export function parseKnownHosts(input: string, raw: string): KnownHost[] {
  const entries: KnownHost[] = [];
  raw.split(/\r?\n/).forEach((line, index) => {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return;
    const fields = text.split(/\s+/);
    // `@cert-authority` / `@revoked` markers are not supported: say so rather than half-honour them.
    if (fields[0]?.startsWith('@'))
      throw new ConfigurationError(
        input,
        `line ${index + 1}: markers such as ${fields[0]} are not supported.`,
      );
    const [names, keyType, key] = fields;
    if (!names || !keyType || !key || !/^[A-Za-z0-9+/]+=*$/.test(key)) {
      throw new ConfigurationError(
        input,
        `line ${index + 1} is not a known_hosts line ("host key-type base64-key"); get one with ssh-keyscan -p PORT HOST.`,
      );
    }
    entries.push({ names: names.split(','), keyType, key });
  });
  return entries;
}

/** OpenSSH's form of a key fingerprint: `SHA256:` + unpadded base64 of the blob's SHA-256. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

export function parseFingerprint(input: string, raw: string): string {
  const text = raw.trim();
  if (!/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(text)) {
    throw new ConfigurationError(
      input,
      `${JSON.stringify(raw)} is not a SHA256 fingerprint (SHA256: and 43 base64 characters; see ssh-keygen -lf).`,
    );
  }
  return text.replace(/=$/, '');
}

function nameMatches(pattern: string, hostName: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(hostName).digest('base64') === hash;
  }
  return pattern === hostName;
}

/** The known_hosts entries that speak for this host and port. */
export function entriesFor(knownHosts: KnownHost[], host: string, port: number): KnownHost[] {
  const hostName = port === 22 ? host : `[${host}]:${port}`;
  return knownHosts.filter((entry) =>
    entry.names.some((pattern) => !pattern.startsWith('!') && nameMatches(pattern, hostName)),
  );
}

export interface HostKeyPolicy {
  knownHosts: KnownHost[];
  fingerprints: string[];
  insecureSkip: boolean;
}

export type HostKeyVerdict = { ok: true } | { ok: false; reason: string };

/** Is the offered key one we trust for this host? The reason names both fingerprints. */
export function judgeHostKey(
  policy: HostKeyPolicy,
  host: string,
  port: number,
  offered: Buffer,
): HostKeyVerdict {
  if (policy.insecureSkip) return { ok: true };
  const offeredFingerprint = fingerprintOf(offered);
  const offeredBase64 = offered.toString('base64');
  const entries = entriesFor(policy.knownHosts, host, port);
  if (entries.some((entry) => entry.key === offeredBase64)) return { ok: true };
  if (policy.fingerprints.includes(offeredFingerprint)) return { ok: true };
  const expected = [
    ...entries.map((entry) => fingerprintOf(Buffer.from(entry.key, 'base64'))),
    ...policy.fingerprints,
  ];
  const where = port === 22 ? host : `[${host}]:${port}`;
  return {
    ok: false,
    reason:
      expected.length === 0
        ? `no known_hosts line or fingerprint is given for ${where}; it offered ${offeredFingerprint}`
        : `host key of ${where} does not match: it offered ${offeredFingerprint}, expected ${expected.join(' or ')}`,
  };
}
