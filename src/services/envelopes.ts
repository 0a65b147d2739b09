import { type KeyObject, randomBytes } from 'node:crypto';
import { CHAT_KEY_BYTES, type KeyEnvelope, sealEnvelope, wrapKey } from '../crypto/envelope.js';
import { timestamp } from '../crypto/time.js';

/**
 * Makes a new epoch's key and hands it out: 32 random bytes wrapped for each member with their
 * RSA-OAEP key and signed by the server; then the raw key is wiped. Only wrapped keys are kept.
 */
export function createEnvelopeIssuer(
  serverKey: KeyObject,
  encryptionKey: (u: string) => Promise<KeyObject | undefined>,
) {
  return async function issue(
    chatId: string,
    epoch: number,
    recipients: string[],
  ): Promise<Map<string, KeyEnvelope>> {
    const chatKey = randomBytes(CHAT_KEY_BYTES);
    try {
      const issuedAt = timestamp();
      const envelopes = await Promise.all(
        recipients.map(async (recipient) => {
          const publicKey = await encryptionKey(recipient);
          if (!publicKey) throw new Error(`member ${recipient} has no registered encryption key`);
          const wrappedKey = wrapKey(publicKey, chatKey);
          return sealEnvelope(serverKey, { chatId, epoch, recipient, wrappedKey, issuedAt });
        }),
      );
      return new Map(envelopes.map((e) => [e.recipient, e]));
    } finally {
      chatKey.fill(0);
    }
  };
}

export type EnvelopeIssuer = ReturnType<typeof createEnvelopeIssuer>;
