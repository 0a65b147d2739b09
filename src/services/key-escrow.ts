import { createCipheriv, createDecipheriv, hkdfSync, type KeyObject, randomBytes } from 'node:crypto';
import { fromBase64, toBase64 } from '../crypto/base64.js';
import {
  CHAT_KEY_BYTES,
  type KeyEnvelope,
  sealEnvelope,
  WRAP_ALGORITHM,
  wrapKey,
} from '../crypto/envelope.js';
import { timestamp } from '../crypto/time.js';
import type { Store } from '../store/types.js';

/**
 * Server-mode chats: the server keeps each epoch's key sealed under a key derived from its own
 * signing key, stored beside the members' envelopes as the envelope of a recipient no username
 * can be. When a member's keys change, it wraps every earlier epoch that member may read for the
 * new encryption key (protocol.md, "What a key change does to chats"). Members-mode chats have
 * no such row: the server never holds their keys.
 */
export const ESCROW_RECIPIENT = '~server';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface KeyEscrow {
  /** The epoch key sealed, as the escrow row of that epoch. */
  envelope(chatId: string, epoch: number, chatKey: Buffer, issuedAt: string): KeyEnvelope;
  /** The epoch key of an escrow row; undefined when it does not open (another server key). */
  open(envelope: KeyEnvelope): Buffer | undefined;
}

const aad = (chatId: string, epoch: number) =>
  Buffer.from(`securechat/v1/escrow\n${chatId}\n${epoch}`, 'utf8');

export function keyEscrow(serverKey: KeyObject): KeyEscrow {
  const der = serverKey.export({ type: 'pkcs8', format: 'der' });
  const key = Buffer.from(hkdfSync('sha256', der, Buffer.alloc(0), 'securechat/v1/epoch-key-escrow', 32));
  return {
    envelope(chatId, epoch, chatKey, issuedAt) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad(chatId, epoch));
      const sealed = Buffer.concat([iv, cipher.update(chatKey), cipher.final(), cipher.getAuthTag()]);
      return {
        chatId,
        epoch,
        recipient: ESCROW_RECIPIENT,
        algorithm: WRAP_ALGORITHM,
        wrappedKey: toBase64(sealed),
        issuedAt,
        serverSignature: '',
      };
    },
    open(envelope) {
      const bytes = fromBase64(envelope.wrappedKey);
      if (!bytes || bytes.length !== IV_BYTES + CHAT_KEY_BYTES + TAG_BYTES) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
        decipher.setAAD(aad(envelope.chatId, envelope.epoch));
        decipher.setAuthTag(bytes.subarray(IV_BYTES + CHAT_KEY_BYTES));
        return Buffer.concat([
          decipher.update(bytes.subarray(IV_BYTES, IV_BYTES + CHAT_KEY_BYTES)),
          decipher.final(),
        ]);
      } catch {
        return undefined;
      }
    },
  };
}

/**
 * Wraps the keys of `epochs` of a server-mode chat again for `recipient`'s current encryption
 * key and stores them in place of the old envelopes; epochs without an escrow row (made before
 * this release) are left as they are. Answers the epochs re-wrapped.
 */
export function keyRewrapper(
  store: Store,
  serverKey: KeyObject,
  escrow: KeyEscrow,
  encryptionKey: (username: string) => Promise<KeyObject | undefined>,
) {
  return async function rewrap(chatId: string, epochs: number[], recipient: string): Promise<number[]> {
    const publicKey = await encryptionKey(recipient);
    if (!publicKey) return [];
    const envelopes: KeyEnvelope[] = [];
    for (const epoch of epochs) {
      const row = await store.getEnvelope(chatId, epoch, ESCROW_RECIPIENT);
      const chatKey = row && 'serverSignature' in row ? escrow.open(row) : undefined;
      if (!chatKey) continue;
      try {
        const wrappedKey = wrapKey(publicKey, chatKey);
        envelopes.push(
          await sealEnvelope(serverKey, { chatId, epoch, recipient, wrappedKey, issuedAt: timestamp() }),
        );
      } finally {
        chatKey.fill(0);
      }
    }
    await store.putEnvelopes(envelopes);
    return envelopes.map((e) => e.epoch);
  };
}

export type KeyRewrapper = ReturnType<typeof keyRewrapper>;
