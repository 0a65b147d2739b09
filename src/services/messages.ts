import type { Fanout } from '../bus/types.js';
import { fromBase64 } from '../crypto/base64.js';
import { messageSigningInput, type TranscriptFields } from '../crypto/canonical.js';
import { verifyAsync } from '../crypto/signatures.js';
import { parseTimestamp, timestamp } from '../crypto/time.js';
import { Errors, rateLimited } from '../errors.js';
import { type AppendRefusal, AppendRefusedError, type MessageBody } from '../store/message-types.js';
import { messageEventData } from '../store/rows.js';
import type { Store } from '../store/types.js';
import { type Metrics, NO_METRICS, resultOf } from '../util/metrics.js';
import { WindowCounter } from '../util/window-counter.js';
import type { Accounts } from './accounts.js';
import type { Chats } from './chats.js';

export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface MessagesDeps {
  store: Store;
  bus: Fanout;
  accounts: Accounts;
  chats: Chats;
  now?: () => number;
  /** The key rotates once an epoch has carried this many messages. */
  rotateMessages: number;
  /** History pages one user may read per minute (on this instance). */
  historyLimit: number;
  /** A history page holds at most this many bytes of messages (one message at least). */
  historyPageBytes: number;
  onError?: (error: unknown) => void;
  /** Counts each post's outcome. */
  metrics?: Metrics;
}

/**
 * Why a message was refused, said once: the checks before the signature and the store's repeat of
 * them (atomic with the seq) give the same answer.
 */
function refused(reason: AppendRefusal, chatId: string, messageId: string, epoch?: number): Error {
  switch (reason) {
    case 'chat-not-found':
      return new Errors.CHAT_NOT_FOUND(chatId);
    case 'not-joined':
      return new Errors.NOT_JOINED('Join the chat before posting.');
    case 'stale-epoch':
      return new Errors.STALE_EPOCH(`The chat is at epoch ${epoch}; re-encrypt under its current key.`);
    case 'duplicate-message':
      return new Errors.DUPLICATE_MESSAGE(`Message ${messageId} was already posted to this chat.`);
    case 'rekey-pending':
      return new Errors.REKEY_PENDING('A new epoch waits for its key; send again when it arrives.');
    case 'invalid-prev':
      return new Errors.INVALID_PREV('prev.seq must be lower than the seq this message gets.');
  }
}

/**
 * A version-2 message's transcript fields (protocol.md, "Transcript integrity"): all three or
 * none (a version-1 message). Their shapes are the schema's; only their presence is checked here.
 */
function transcriptOf(body: MessageBody): TranscriptFields | undefined {
  const present = [body.device, body.counter, body.prev].filter((v) => v !== undefined).length;
  if (present === 0) return undefined;
  if (present < 3) throw new Errors.INVALID_BODY('device, counter and prev come together, or none of them');
  return { device: body.device as string, counter: body.counter as number, prev: body.prev ?? null };
}

export function createMessages({
  store,
  bus,
  accounts,
  chats,
  now = Date.now,
  rotateMessages,
  historyLimit,
  historyPageBytes,
  onError = () => {},
  metrics = NO_METRICS,
}: MessagesDeps) {
  const reads = new WindowCounter(historyLimit, 60_000, now);

  /** The protocol's checks in its order; the first failure answers. */
  async function post(sender: string, chatId: string, body: MessageBody) {
    // 1. schema: what JSON Schema cannot say (real dates, canonical base64).
    const sentAt = parseTimestamp(body.sentAt);
    if (sentAt === undefined) throw new Errors.INVALID_BODY('sentAt is not a real RFC 3339 UTC time');
    const signature = fromBase64(body.signature);
    for (const field of ['iv', 'ciphertext', 'tag'] as const) {
      if (!fromBase64(body[field])) throw new Errors.INVALID_BODY(`${field} is not canonical base64`);
    }
    if (!signature) throw new Errors.INVALID_BODY('signature is not canonical base64');
    const transcript = transcriptOf(body);

    // 2. membership, 3. epoch.
    const chat = { id: chatId.toLowerCase() };
    const found = await store.membership(chat.id, sender);
    if (!found) throw refused('chat-not-found', chatId, body.id);
    const { member, epoch: currentEpoch } = found;
    if (member.state !== 'joined') throw refused('not-joined', chatId, body.id);
    // members mode: a removal or rotation waits for its key (an addition alone stalls nobody)
    if (found.rekeyPending) throw refused('rekey-pending', chatId, body.id);
    if (body.epoch !== currentEpoch) throw refused('stale-epoch', chatId, body.id, currentEpoch);

    // 4. clock.
    if (Math.abs(now() - sentAt) > MAX_CLOCK_SKEW_MS) {
      throw new Errors.CLOCK_SKEW(
        `sentAt is more than 5 minutes from the server clock (${timestamp(new Date(now()))})`,
      );
    }

    // 5. signature, on the thread pool.
    const key = await accounts.signingKey(sender, body.signatureAlgorithm);
    const header = {
      chatId: chat.id,
      epoch: body.epoch,
      sender,
      id: body.id,
      sentAt: body.sentAt,
      transcript,
    };
    const valid =
      key !== undefined &&
      (await verifyAsync(body.signatureAlgorithm, key, messageSigningInput(header, body), signature));
    if (!valid) {
      throw new Errors.BAD_SIGNATURE(
        `The ${body.signatureAlgorithm} signature does not verify under ${sender}'s registered key.`,
      );
    }

    // 6. duplicate id, and the membership and epoch again, atomically with the seq.
    const receivedAt = timestamp(new Date(now()));
    const message: MessageBody = {
      id: body.id,
      epoch: body.epoch,
      sentAt: body.sentAt,
      iv: body.iv,
      ciphertext: body.ciphertext,
      tag: body.tag,
      signatureAlgorithm: body.signatureAlgorithm,
      signature: body.signature,
      ...transcript,
    };
    const { seq, event, epochMessages } = await store
      .appendMessage({ chatId: chat.id, sender, receivedAt, message }, (seq) =>
        messageEventData({ chatId: chat.id, seq, sender, receivedAt, message }),
      )
      .catch((error: unknown) => {
        if (error instanceof AppendRefusedError) throw refused(error.reason, chat.id, body.id, error.epoch);
        throw error;
      });
    await bus.publish({
      kind: 'event',
      type: event.type,
      data: event.data,
      id: event.id,
      to: event.recipients,
    });
    if (epochMessages >= rotateMessages) void chats.rotate(chat.id, 'messages', message.epoch).catch(onError);
    return { seq, receivedAt };
  }

  return {
    /** Posts a message (see `post` above), counting what came of it. */
    async post(sender: string, chatId: string, body: MessageBody) {
      try {
        const answer = await post(sender, chatId, body);
        metrics.message('accepted');
        return answer;
      } catch (error) {
        metrics.message(resultOf(error));
        throw error;
      }
    },

    /**
     * Up to `limit` messages after `after`, fewer when they would pass the page's byte budget:
     * the client asks again after the last seq it got.
     */
    async list(username: string, chatId: string, after: number, limit: number) {
      const wait = reads.blockedFor(username);
      if (wait > 0) throw rateLimited(`Too many history reads; try again in ${Math.ceil(wait)} s.`, wait);
      reads.hit(username);
      const found = await store.membership(chatId.toLowerCase(), username);
      if (!found) throw new Errors.CHAT_NOT_FOUND(chatId);
      return {
        messages: await store.listMessages(
          chatId.toLowerCase(),
          after,
          limit,
          found.member.sinceEpoch,
          historyPageBytes,
        ),
      };
    },
  };
}

export type Messages = ReturnType<typeof createMessages>;
