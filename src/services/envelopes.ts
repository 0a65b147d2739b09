import { type KeyObject, randomBytes } from 'node:crypto';
import { CHAT_KEY_BYTES, type KeyEnvelope, sealEnvelope, wrapKey } from '../crypto/envelope.js';
import { timestamp } from '../crypto/time.js';
import { WorkQueue } from './limiter.js';

/**
 * Envelope signatures that may be on libuv's thread pool at once (default: a quarter of the pool,
 * at least one). A 1,000-member rotation is 1,000 RSA signatures: queued all at once they would
 * sit ahead of every message verification; with their own share, a verification waits for at most
 * this many signatures, and signing still keeps its share busy.
 */
export function signingSlots(pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4)): number {
  return Math.max(1, Math.floor(pool / 4));
}

/**
 * Makes a new epoch's key and hands it out: 32 random bytes wrapped for each member with their
 * RSA-OAEP key and signed by the server; then the raw key is wiped. Only wrapped keys are kept.
 */
export function createEnvelopeIssuer(
  serverKey: KeyObject,
  encryptionKey: (u: string) => Promise<KeyObject | undefined>,
  slots = signingSlots(),
  seal: typeof sealEnvelope = sealEnvelope,
) {
  // one share for every rotation of this server, so concurrent rotations do not add up
  const signing = new WorkQueue(slots);
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
          return signing.run(() => seal(serverKey, { chatId, epoch, recipient, wrappedKey, issuedAt }));
        }),
      );
      return new Map(envelopes.map((e) => [e.recipient, e]));
    } finally {
      chatKey.fill(0);
    }
  };
}

export type EnvelopeIssuer = ReturnType<typeof createEnvelopeIssuer>;
