import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fromBase64, toBase64 } from './base64.js';
import type { SealedParts } from './canonical.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM with a fresh random 12-byte IV and a 16-byte tag, binding `aad`. */
export function seal(key: Buffer, plaintext: Buffer, aad: string): SealedParts {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv: toBase64(iv), ciphertext: toBase64(ciphertext), tag: toBase64(cipher.getAuthTag()) };
}

/** Throws when anything (key, IV, AAD, ciphertext or tag) does not match. */
export function open(key: Buffer, parts: SealedParts, aad: string): Buffer {
  const iv = fromBase64(parts.iv);
  const ciphertext = fromBase64(parts.ciphertext);
  const tag = fromBase64(parts.tag);
  if (!iv || iv.length !== IV_BYTES || !ciphertext || !tag || tag.length !== TAG_BYTES) {
    throw new Error('malformed iv, ciphertext or tag');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}
