import { constants, type KeyObject, privateDecrypt, publicEncrypt } from 'node:crypto';
import { CHAT_KEY_BYTES, type KeyEnvelope, WRAP_ALGORITHM } from '../client/envelope.js';
import { fromBase64, toBase64 } from './base64.js';
import { envelopeSigningInput } from './canonical.js';
import { signAsync, verifyAsync } from './signatures.js';

// The envelope's shape is the protocol's, defined once in the client library.
export { CHAT_KEY_BYTES, type KeyEnvelope, WRAP_ALGORITHM };

type KeyInput = KeyObject | string;

/** RSA-OAEP with SHA-256; OpenSSL uses the OAEP digest for MGF1 too, and the label is empty. */
const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;

export function wrapKey(publicKey: KeyInput, chatKey: Buffer): string {
  return toBase64(publicEncrypt({ key: publicKey, ...OAEP }, chatKey));
}

export function unwrapKey(privateKey: KeyInput, wrappedKey: string): Buffer {
  const bytes = fromBase64(wrappedKey);
  if (!bytes) throw new Error('wrappedKey is not base64');
  const key = privateDecrypt({ key: privateKey, ...OAEP }, bytes);
  if (key.length !== CHAT_KEY_BYTES)
    throw new Error(`unwrapped key is ${key.length} bytes, not ${CHAT_KEY_BYTES}`);
  return key;
}

export async function sealEnvelope(
  serverKey: KeyInput,
  fields: Omit<KeyEnvelope, 'algorithm' | 'serverSignature'>,
): Promise<KeyEnvelope> {
  const signature = await signAsync('rsa-pss-sha256', serverKey, envelopeSigningInput(fields));
  return { ...fields, algorithm: WRAP_ALGORITHM, serverSignature: toBase64(signature) };
}

export async function verifyEnvelope(serverPublicKey: KeyInput, envelope: KeyEnvelope): Promise<boolean> {
  const signature = fromBase64(envelope.serverSignature);
  if (!signature || envelope.algorithm !== WRAP_ALGORITHM) return false;
  return verifyAsync('rsa-pss-sha256', serverPublicKey, envelopeSigningInput(envelope), signature);
}

/** Verify-then-unwrap, the only order a client should use. */
export async function openEnvelope(serverPublicKey: KeyInput, privateKey: KeyInput, envelope: KeyEnvelope) {
  if (!(await verifyEnvelope(serverPublicKey, envelope)))
    throw new Error('key envelope signature is invalid');
  return unwrapKey(privateKey, envelope.wrappedKey);
}
