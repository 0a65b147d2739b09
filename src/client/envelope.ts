import { type Bytes, concat, fromBase64, pemToDer, toBase64, utf8 } from './bytes.js';
import { envelopeSigningText, type SealedParts } from './canonical.js';
import { ClientError, EnvelopeRefused } from './errors.js';
import { escapeControls, shortId } from './text.js';
import { checkEnvelope } from './validate.js';

export const WRAP_ALGORITHM = 'RSA-OAEP-SHA256';
export const CHAT_KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface KeyEnvelope {
  chatId: string;
  epoch: number;
  recipient: string;
  algorithm: typeof WRAP_ALGORITHM;
  wrappedKey: string;
  issuedAt: string;
  serverSignature: string;
}

const subtle = () => globalThis.crypto.subtle;
const PSS = { name: 'RSA-PSS', saltLength: 32 } as const;
/** RSA-OAEP with SHA-256 (MGF1-SHA-256 too in WebCrypto) and an empty label. */
const OAEP = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;

/** The server's RSA-PSS public key (SPKI PEM) for envelope verification. */
export async function importServerKey(pem: unknown): Promise<{ key: CryptoKey; der: Bytes }> {
  const der = pemToDer(pem, 'PUBLIC KEY');
  if (!der) throw new ClientError('the server sent a signing key that is not a public key');
  try {
    return {
      key: await subtle().importKey('spki', der, { name: 'RSA-PSS', hash: 'SHA-256' }, true, ['verify']),
      der,
    };
  } catch {
    throw new ClientError('the server sent a signing key that is not a public key');
  }
}

/** A PKCS#8 PEM RSA key for unwrapping chat keys, imported non-extractable. */
export async function importEncryptionKey(pem: string): Promise<CryptoKey> {
  const der = pemToDer(pem, 'PRIVATE KEY');
  if (!der) throw new ClientError('the encryption key is not a PKCS#8 PEM private key');
  return subtle().importKey('pkcs8', der, OAEP, false, ['decrypt']);
}

export async function verifyEnvelopeSignature(serverKey: CryptoKey, envelope: KeyEnvelope): Promise<boolean> {
  const signature = fromBase64(envelope.serverSignature);
  if (!signature || envelope.algorithm !== WRAP_ALGORITHM) return false;
  try {
    return await subtle().verify(PSS, serverKey, signature, utf8(envelopeSigningText(envelope)));
  } catch {
    return false;
  }
}

/** The raw 32-byte chat key; throws when it does not unwrap or is not 32 bytes. */
export async function unwrapChatKeyBytes(privateKey: CryptoKey, wrappedKey: unknown): Promise<Bytes> {
  const bytes = fromBase64(wrappedKey);
  if (!bytes) throw new Error('wrappedKey is not base64');
  const key = new Uint8Array(await subtle().decrypt(OAEP, privateKey, bytes));
  if (key.length !== CHAT_KEY_BYTES)
    throw new Error(`unwrapped key is ${key.length} bytes, not ${CHAT_KEY_BYTES}`);
  return key;
}

/** A chat key as a non-extractable AES-256-GCM key. */
export function importChatKey(bytes: Bytes): Promise<CryptoKey> {
  return subtle().importKey('raw', bytes, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** AES-256-GCM with a fresh random 12-byte IV and a 16-byte tag, binding `aad`. */
export async function seal(key: CryptoKey, plaintext: Bytes, aad: string): Promise<SealedParts> {
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = new Uint8Array(
    await subtle().encrypt(
      { name: 'AES-GCM', iv, additionalData: utf8(aad), tagLength: 128 },
      key,
      plaintext,
    ),
  );
  const cut = sealed.length - TAG_BYTES;
  return {
    iv: toBase64(iv),
    ciphertext: toBase64(sealed.subarray(0, cut)),
    tag: toBase64(sealed.subarray(cut)),
  };
}

/** Throws when anything (key, IV, AAD, ciphertext or tag) does not match. */
export async function open(key: CryptoKey, parts: SealedParts, aad: string): Promise<Bytes> {
  const iv = fromBase64(parts.iv);
  const ciphertext = fromBase64(parts.ciphertext);
  const tag = fromBase64(parts.tag);
  if (!iv || iv.length !== IV_BYTES || !ciphertext || !tag || tag.length !== TAG_BYTES)
    throw new Error('malformed iv, ciphertext or tag');
  return new Uint8Array(
    await subtle().decrypt(
      { name: 'AES-GCM', iv, additionalData: utf8(aad), tagLength: 128 },
      key,
      concat(ciphertext, tag),
    ),
  );
}

/** What the caller asked for when an envelope arrives. */
export interface EnvelopeExpectation {
  /** The chat asked for (or named by the event or answer that carried the envelope). */
  chatId: string;
  /** The epoch the answer that carried it named (a chat object's epoch, `?epoch=`): it must agree. */
  epoch?: number;
  /**
   * The epoch an earlier answer named (STALE_EPOCH): the envelope fetched after it may be newer
   * (the key rotated again meanwhile), never older.
   */
  atLeast?: number;
  /** An explicitly asked-for past epoch (to read history): lower than the highest seen is fine. */
  past?: boolean;
  /** The mode the chat object that carried the envelope names: `members` takes no server-made key. */
  keyMode?: 'server' | 'members';
}

/**
 * protocol.md, "What every client checks itself", 1: an envelope offered as the chat's new or
 * current key is not older than `highest`, the highest epoch held of the chat; one asked for by
 * its epoch (`past`: an older epoch's key, to read history) may be. Cheap: asked before every
 * signature check and unwrap, and again after each wait, since another accept may raise `highest`.
 */
export function checkNotOlder(expected: EnvelopeExpectation, epoch: number, highest: number): void {
  if (!expected.past && epoch < highest)
    throw new EnvelopeRefused(
      `chat ${shortId(expected.chatId)}: epoch ${epoch} is older than epoch ${highest}, already seen (a replayed key?)`,
    );
}

/**
 * protocol.md, "What every client checks itself", 1: for the chat asked for, of the epoch named,
 * not older than `highest` (the highest epoch seen for the chat), for `username`. The signature
 * is checked after these, by the caller.
 */
export function checkEnvelopeFields(
  envelope: unknown,
  expected: EnvelopeExpectation,
  highest: number,
  username: string,
): asserts envelope is KeyEnvelope {
  const e = (envelope ?? {}) as Partial<KeyEnvelope>;
  const chat = shortId(expected.chatId);
  if (typeof e !== 'object') throw new EnvelopeRefused(`no envelope for chat ${chat}`);
  // The shape first, so that no field of a wrong type is used below.
  try {
    checkEnvelope(envelope);
  } catch (error) {
    throw new EnvelopeRefused(`chat ${chat}: ${escapeControls((error as Error).message)}`);
  }
  if (e.chatId !== expected.chatId)
    throw new EnvelopeRefused(`it is for chat ${shortId(String(e.chatId))}, not chat ${chat}`);
  const epoch = e.epoch as number;
  if (!Number.isSafeInteger(epoch) || epoch < 1)
    throw new EnvelopeRefused(`chat ${chat}: epoch ${escapeControls(String(epoch))} is not an epoch`);
  if (expected.epoch !== undefined && epoch !== expected.epoch)
    throw new EnvelopeRefused(
      `chat ${chat}: the answer names epoch ${escapeControls(String(expected.epoch))}, the envelope ${epoch}`,
    );
  if (expected.atLeast !== undefined && epoch < expected.atLeast)
    throw new EnvelopeRefused(
      `chat ${chat}: the server named epoch ${escapeControls(String(expected.atLeast))}, the envelope is of epoch ${epoch}`,
    );
  checkNotOlder(expected, epoch, highest);
  if (e.recipient !== username)
    throw new EnvelopeRefused(`chat ${chat}: it is for ${escapeControls(String(e.recipient))}, not you`);
}

/**
 * Checks, verifies the server's signature, then unwraps: the only order a client uses.
 * Returns the raw chat key bytes. `highest` as a function is read again before the unwrap: an
 * envelope that became older while its signature was checked is not unwrapped.
 */
export async function openEnvelope(
  envelope: unknown,
  expected: EnvelopeExpectation,
  context: {
    highest: number | (() => number);
    username: string;
    serverKey: CryptoKey;
    /** The user's key; several (former-keys.ts): the first that opens it. */
    encryptionKey: CryptoKey | readonly CryptoKey[];
    /** Told which of the keys opened it (0: the first). */
    onOpened?: (index: number) => void;
  },
): Promise<Bytes> {
  const highest = () => (typeof context.highest === 'function' ? context.highest() : context.highest);
  checkEnvelopeFields(envelope, expected, highest(), context.username);
  const chat = shortId(expected.chatId);
  if (!(await verifyEnvelopeSignature(context.serverKey, envelope)))
    throw new EnvelopeRefused(`chat ${chat} epoch ${envelope.epoch}: the server signature does not verify`);
  checkNotOlder(expected, envelope.epoch, highest());
  const keys = context.encryptionKey;
  for (const [i, key] of (Array.isArray(keys) ? keys : [keys as CryptoKey]).entries()) {
    try {
      const bytes = await unwrapChatKeyBytes(key, envelope.wrappedKey);
      context.onOpened?.(i);
      return bytes;
    } catch {
      // the next key (one a key change replaced), if any
    }
  }
  throw new EnvelopeRefused(`chat ${chat} epoch ${envelope.epoch}: it does not unwrap with your key`);
}
