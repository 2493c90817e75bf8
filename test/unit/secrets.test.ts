/** The rotation's pure parts: generators, fingerprints, the sealed box (opened by libsodium itself), the plan after a crash. */
import { describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { OperationError } from '../../shared/src/errors.js';
import { decideRotation, type HostValues } from '../../shared/src/secrets/plan.js';
import { parseRecord, recordPath } from '../../shared/src/secrets/record.js';
import { sealForGithub } from '../../shared/src/secrets/sealed-box.js';
import { fingerprint, generateValue, parseGenerate } from '../../shared/src/secrets/value.js';
import { checkGithubSecretName } from '../../shared/src/secrets/github-secret.js';

const fp = fingerprint;

describe('new values', () => {
  it('generates what each spec promises, fresh every time', () => {
    const b64 = generateValue(parseGenerate('generate', 'base64:64'));
    expect(b64).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(Buffer.from(b64, 'base64')).toHaveLength(64);
    expect(generateValue(parseGenerate('generate', 'hex:32'))).toMatch(/^[0-9a-f]{64}$/);
    expect(generateValue(parseGenerate('generate', 'alnum:40'))).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(generateValue({ kind: 'hex', size: 32 })).not.toBe(generateValue({ kind: 'hex', size: 32 }));
  });

  it.each(['base64', 'base64:8', 'rsa:2048', 'hex:99999', ' alnum:40; rm -rf /'])(
    'refuses generate %j',
    (raw) => {
      expect(() => parseGenerate('generate', raw)).toThrow(/Input 'generate'/);
    },
  );

  it('fingerprints are the first 8 hex of sha256', () => {
    expect(fp('secret')).toBe(createHash('sha256').update('secret').digest('hex').slice(0, 8));
  });

  it('knows GitHub secret names', () => {
    expect(checkGithubSecretName('JWT_SECRET')).toBeUndefined();
    expect(checkGithubSecretName('GITHUB_TOKEN')).toMatch(/reserves/);
    expect(checkGithubSecretName('1X')).toMatch(/not starting with a digit/);
    expect(checkGithubSecretName('A-B')).toBeDefined();
  });
});

describe('sealed box', () => {
  it('opens with libsodium crypto_box_seal_open to the same value, and never seals twice alike', async () => {
    await sodium.ready;
    const pair = sodium.crypto_box_keypair();
    const key = Buffer.from(pair.publicKey).toString('base64');
    for (const value of ['x', 'ünïcødé 🔑', 'a'.repeat(48 * 1024)]) {
      const sealed = sealForGithub(value, key);
      const opened = sodium.crypto_box_seal_open(
        Buffer.from(sealed, 'base64'),
        pair.publicKey,
        pair.privateKey,
      );
      expect(Buffer.from(opened).toString('utf8')).toBe(value);
      expect(sealForGithub(value, key)).not.toBe(sealed);
    }
  });

  it('refuses a key of the wrong size', () => {
    expect(() => sealForGithub('x', Buffer.alloc(16).toString('base64'))).toThrow(/32-byte public key/);
  });
});

describe('the plan', () => {
  const generate = () => 'GENERATED';
  const hosts = (...list: Partial<HostValues>[]): HostValues[] =>
    list.map((h, i) => ({ host: `h${i}`, ...h }));

  it('a fresh rotation: old value kept as grace, a new one generated or provided', () => {
    expect(decideRotation('K', hosts({ current: 'old' }, { current: 'old' }), undefined, generate)).toEqual({
      newValue: 'GENERATED',
      oldValue: 'old',
      unchanged: false,
      adopted: false,
    });
    expect(decideRotation('K', hosts({}), 'given', generate)).toMatchObject({
      newValue: 'given',
      unchanged: false,
    });
    expect(decideRotation('K', hosts({}), 'given', generate).oldValue).toBeUndefined();
  });

  it('a provided value every host already holds changes nothing', () => {
    expect(decideRotation('K', hosts({ current: 'v', previous: 'p' }), 'v', generate)).toMatchObject({
      unchanged: true,
    });
  });

  it('refuses hosts that disagree with no rotation under way, naming fingerprints only', () => {
    expect(() => decideRotation('K', hosts({ current: 'a' }, { current: 'b' }), undefined, generate)).toThrow(
      new RegExp(`h0: ${fp('a')}, h1: ${fp('b')}.*edited by hand`),
    );
  });

  it('after a crash: finishes with the value the first host got, the old one stays the grace value', () => {
    const pending = {
      fingerprint: fp('N1'),
      previous_fingerprint: fp('O'),
      started_at: '2026-12-01T00:00:00Z',
    };
    const found = hosts({ current: 'N1', previous: 'O', pending }, { current: 'O', pending });
    expect(decideRotation('K', found, undefined, generate)).toEqual({
      newValue: 'N1',
      oldValue: 'O',
      unchanged: false,
      resumes: pending,
      adopted: true,
    });
    // Every host already switched (crash before GitHub): the old value is found as the grace value.
    expect(
      decideRotation('K', hosts({ current: 'N1', previous: 'O', pending }), undefined, generate),
    ).toMatchObject({
      newValue: 'N1',
      oldValue: 'O',
    });
    // Crash before any host was written: a new value, the journal's old value as grace.
    expect(decideRotation('K', hosts({ current: 'O', pending }), undefined, generate)).toMatchObject({
      newValue: 'GENERATED',
      oldValue: 'O',
      adopted: false,
    });
    // A value provided on the re-run wins over the half-written one; the old value stays the grace value.
    expect(decideRotation('K', found, 'V', generate)).toMatchObject({
      newValue: 'V',
      oldValue: 'O',
      adopted: false,
    });
  });

  it('after a crash, a host holding a third value is refused', () => {
    const pending = {
      fingerprint: fp('N1'),
      previous_fingerprint: fp('O'),
      started_at: '2026-12-01T00:00:00Z',
    };
    expect(() =>
      decideRotation('K', hosts({ current: 'N1', pending }, { current: 'X' }), undefined, generate),
    ).toThrow(OperationError);
  });
});

describe('the rotation record', () => {
  it('lives beside the env file and refuses a file that is not ours', () => {
    expect(recordPath('/var/www/app/shared/.env')).toBe('/var/www/app/shared/.rotations.json');
    expect(parseRecord(undefined, 'x')).toEqual({ version: 1, secrets: {}, pending: {} });
    expect(() => parseRecord('not json', 'h:/x')).toThrow(/h:\/x is not JSON/);
  });
});
