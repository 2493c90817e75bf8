/**
 * libsodium's `crypto_box_seal`, which GitHub requires for secret values: an ephemeral X25519 key
 * pair, the nonce blake2b-24(ephemeral public key ‖ recipient key), XSalsa20-Poly1305, output
 * ephemeral public key ‖ box. Node's crypto has no XSalsa20, so tweetnacl (the box) and blakejs
 * (the nonce) are composed exactly as GitHub's former `tweetsodium` did; the tests open every box
 * with libsodium itself.
 */
import nacl from 'tweetnacl';
import { blake2b } from 'blakejs';

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

export function sealedBox(message: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  if (recipientPublicKey.length !== nacl.box.publicKeyLength)
    throw new Error(
      `a sealed box needs a ${nacl.box.publicKeyLength}-byte public key, got ${recipientPublicKey.length}`,
    );
  const ephemeral = nacl.box.keyPair();
  const nonce = blake2b(concat(ephemeral.publicKey, recipientPublicKey), undefined, nacl.box.nonceLength);
  const box = nacl.box(message, nonce, recipientPublicKey, ephemeral.secretKey);
  ephemeral.secretKey.fill(0);
  return concat(ephemeral.publicKey, box);
}

/** The value as GitHub's secrets API wants it: sealed to the scope's base64 public key, base64. */
export function sealForGithub(value: string, publicKeyBase64: string): string {
  const key = new Uint8Array(Buffer.from(publicKeyBase64, 'base64'));
  return Buffer.from(sealedBox(new Uint8Array(Buffer.from(value, 'utf8')), key)).toString('base64');
}
