import type { Api } from './api.js';
import { randomId } from './bytes.js';
import type { TranscriptFields } from './canonical.js';
import type { ChatKeys } from './chat-keys.js';
import { ApiError, ClientError, EnvelopeRefused } from './errors.js';
import type { SignatureAlgorithm } from './keys.js';
import type { MemberCommits } from './member-commits.js';
import { composeMessage, type MessageBody } from './message.js';
import type { SignatureProvider } from './signatures.js';
import type { EpochStore } from './stores.js';
import { shortId } from './text.js';
import type { Transcript } from './transcript.js';
import type { UserKeys } from './user-keys.js';

/** A post refused with 429 and a `Retry-After` of at most this many seconds is sent again (as the same message), this many times. */
const MAX_WAIT_429_S = 5;
const RETRIES_429 = 2;

export interface SenderDeps {
  api: Api;
  username: string;
  keys: UserKeys;
  provider: SignatureProvider;
  epochs: EpochStore;
  chatKeys: ChatKeys;
  commits: MemberCommits;
  transcript: Transcript;
}

/**
 * This user's posts: each sealed under the newest key, signed, given its transcript fields
 * (a counter reserved before the post), and sent again as the same message after a stale epoch,
 * a pending members-mode key, a short 429 or a refused `prev`. Posts to one chat go one at a time.
 */
export class Sender {
  /** Posts to a chat one at a time, so that this device's counters follow the chat's seqs. */
  private readonly sending = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: SenderDeps) {}

  /** A sealed, signed message body of this user (version 2 when given its transcript fields). */
  compose(
    chatId: string,
    epoch: number,
    key: CryptoKey,
    text: string,
    alg: SignatureAlgorithm,
    transcript?: TranscriptFields,
    id?: string,
  ): Promise<MessageBody> {
    const signingKey = this.deps.keys.signing[alg];
    if (signingKey === undefined) throw new ClientError(`this client does not sign with ${alg}`);
    return composeMessage(this.deps.provider, {
      chatId,
      epoch,
      sender: this.deps.username,
      key,
      text,
      alg,
      signingKey,
      transcript,
      id,
    });
  }

  /**
   * Encrypts, signs and posts under the highest epoch seen; a STALE_EPOCH answer is re-encrypted
   * under the new key and sent once more, if that key is newer and is the epoch the answer named.
   * `id` is the message's id when it is sent again (a copy that did arrive is then refused as
   * `DUPLICATE_MESSAGE`, never stored twice); a new one otherwise.
   */
  send(
    chatId: string,
    text: string,
    alg: SignatureAlgorithm,
    id?: string,
  ): Promise<{ seq: number; epoch: number }> {
    const run = (this.sending.get(chatId) ?? Promise.resolve()).then(
      () => this.sendNow(chatId, text, alg, id),
      () => this.sendNow(chatId, text, alg, id),
    );
    this.sending.set(chatId, run);
    void run
      .finally(() => {
        if (this.sending.get(chatId) === run) this.sending.delete(chatId);
      })
      .catch(() => undefined);
    return run;
  }

  /**
   * One post: its counter reserved first, under the post's id: every try of it (a retry here, or
   * the caller sending the same id again) carries that counter; a post refused for good leaves a
   * gap (never a counter reused under another id, which would let a server fork the sender).
   */
  private async sendNow(chatId: string, text: string, alg: SignatureAlgorithm, id?: string) {
    // one id for every try of this post: a retry under a new epoch is the same message
    const postId = id ?? randomId();
    const transcript = await this.deps.transcript.next(chatId, postId);
    try {
      const sent = await this.post(chatId, text, alg, transcript, postId);
      this.deps.transcript.sent(chatId, postId);
      return sent;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'DUPLICATE_MESSAGE')
        this.deps.transcript.sent(chatId, postId);
      throw error;
    }
  }

  private async post(
    chatId: string,
    text: string,
    alg: SignatureAlgorithm,
    transcript: TranscriptFields,
    id: string,
    tries = 0,
  ): Promise<{ seq: number; epoch: number }> {
    let epoch = this.deps.epochs.highestEpoch(chatId);
    const { chatKeys } = this.deps;
    let key = epoch === undefined ? undefined : await chatKeys.chatKey(chatId, epoch);
    // a key made for keys this user replaced is not sent under: the chat's current one is asked for
    if (key && !chatKeys.sealable(key)) key = undefined;
    if (epoch === undefined || !key) ({ epoch, key } = await chatKeys.currentKey(chatId));
    const post = async (e: number, k: CryptoKey) => {
      chatKeys.checkSealable(chatId, e, k);
      return this.deps.api.postMessage(chatId, await this.compose(chatId, e, k, text, alg, transcript, id));
    };
    try {
      return { ...(await post(epoch, key)), epoch };
    } catch (error) {
      if (error instanceof ApiError && error.status === 429 && tries < RETRIES_429) {
        const wait = error.retryAfter;
        // a limit that passes soon: the same message (id and counter) once it has
        if (wait !== undefined && wait <= MAX_WAIT_429_S) {
          await new Promise((resolve) => setTimeout(resolve, wait * 1000));
          return this.post(chatId, text, alg, transcript, id, tries + 1);
        }
      }
      if (error instanceof ApiError && error.code === 'INVALID_PREV' && transcript.prev) {
        // prev named a message the chat does not have (a forged seq saved before): one it confirms
        const prev = await this.deps.transcript.prevAfterRefusal(chatId, transcript.prev.seq);
        return this.post(chatId, text, alg, { ...transcript, prev }, id, tries);
      }
      if (error instanceof ApiError && error.code === 'REKEY_PENDING') {
        // members mode: make the waiting key if this user may, then send under it
        const outcome = await this.deps.commits.commitPending(chatId);
        if (outcome.status !== 'committed' && outcome.status !== 'lost')
          throw new ClientError(
            `chat ${shortId(chatId)}: a new key waits for another member to make it; send again shortly`,
          );
        const current = await chatKeys.currentKey(chatId);
        return { ...(await post(current.epoch, current.key)), epoch: current.epoch };
      }
      if (!(error instanceof ApiError) || error.code !== 'STALE_EPOCH') throw error;
      const named = /\bepoch (\d+)\b/.exec(error.detail);
      const current = await chatKeys.currentKey(chatId, named ? Number(named[1]) : undefined);
      if (current.epoch <= epoch)
        throw new EnvelopeRefused(
          `chat ${shortId(chatId)}: the server called epoch ${epoch} stale but offers epoch ${current.epoch}`,
        );
      return { ...(await post(current.epoch, current.key)), epoch: current.epoch };
    }
  }
}
