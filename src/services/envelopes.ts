import { type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { CHAT_KEY_BYTES, type KeyEnvelope, sealEnvelope, wrapKey } from '../crypto/envelope.js';
import { timestamp } from '../crypto/time.js';
import { Errors } from '../errors.js';
import { ESCROW_RECIPIENT, type KeyEscrow } from './key-escrow.js';
import { threadPoolSize, WorkQueue } from './limiter.js';

/**
 * Envelope signatures that may be on libuv's thread pool at once (default: a quarter of the pool,
 * at least one). A 1,000-member rotation is 1,000 RSA signatures: queued all at once they would
 * sit ahead of every message verification; with their own share, a verification waits for at most
 * this many signatures, and signing still keeps its share busy.
 */
export function signingSlots(pool = threadPoolSize()): number {
  return Math.max(1, Math.floor(pool / 4));
}

/**
 * Makes a new epoch's key and hands it out: 32 random bytes wrapped for each member with their
 * RSA-OAEP key and signed by the server; then the raw key is wiped. Only wrapped keys are kept.
 * Rotations share the signing slots in turn (one signature of each waiting rotation before the
 * next of any), so a small chat's rotation does not wait behind a 1,000-member one; the first
 * member whose envelope cannot be made stops the rotation's remaining work.
 */
export function createEnvelopeIssuer(
  serverKey: KeyObject,
  encryptionKey: (u: string) => Promise<KeyObject | undefined>,
  share: WorkQueue | number = signingSlots(),
  seal: typeof sealEnvelope = sealEnvelope,
  /** Keeps each epoch's key sealed for the server (key-escrow.ts): its row is in the answer too. */
  escrow?: KeyEscrow,
) {
  // one share for every rotation of this server (and its members-mode commits' verifications:
  // the caller passes the queue to both), so concurrent rotations do not add up
  const signing = typeof share === 'number' ? new WorkQueue(share) : share;
  return async function issue(
    chatId: string,
    epoch: number,
    recipients: string[],
  ): Promise<Map<string, KeyEnvelope>> {
    const chatKey = randomBytes(CHAT_KEY_BYTES);
    const job = randomUUID();
    const stop = new AbortController();
    try {
      const issuedAt = timestamp();
      const envelopes = await Promise.all(
        recipients.map((recipient) =>
          signing.run(
            async () => {
              try {
                const wrappedKey = wrapFor(recipient, await encryptionKey(recipient), chatKey);
                return await seal(serverKey, { chatId, epoch, recipient, wrappedKey, issuedAt });
              } catch (error) {
                // before the slot passes on: the rotation's waiting work leaves the queue
                if (!stop.signal.aborted) stop.abort(error);
                throw error;
              }
            },
            { key: job, signal: stop.signal },
          ),
        ),
      ).catch((error) => {
        // the first failure, not the "abandoned" of the work it stopped
        throw stop.signal.aborted ? stop.signal.reason : error;
      });
      const issued = new Map(envelopes.map((e) => [e.recipient, e]));
      if (escrow) issued.set(ESCROW_RECIPIENT, escrow.envelope(chatId, epoch, chatKey, issuedAt));
      return issued;
    } finally {
      chatKey.fill(0);
    }
  };
}

/** The chat key wrapped for one member; a key that cannot wrap it is a 400 naming the member, never a 500. */
function wrapFor(recipient: string, publicKey: KeyObject | undefined, chatKey: Buffer): string {
  if (!publicKey) throw new Errors.INVALID_INVITEE(`${recipient} has no registered encryption key.`);
  try {
    return wrapKey(publicKey, chatKey);
  } catch {
    throw new Errors.INVALID_INVITEE(`${recipient}'s encryption key cannot wrap a chat key.`);
  }
}

export type EnvelopeIssuer = ReturnType<typeof createEnvelopeIssuer>;
