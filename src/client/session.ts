import type { Api } from './api.js';
import { randomId } from './bytes.js';
import type { TranscriptFields } from './canonical.js';
import { ChatKeys } from './chat-keys.js';
import { type Chat, checkNewChat, type Unavailable } from './chats.js';
import { ApiError, ClientError, EnvelopeRefused, MessageRefused } from './errors.js';
import { checkedKeySet } from './key-set.js';
import type { Fingerprints, SignatureAlgorithm } from './keys.js';
import { MemberCommits, type MemberCommitsOptions, NEW_CHAT } from './member-commits.js';
import type { MemberChange } from './members.js';
import {
  composeMessage,
  type MessageBody,
  type MessageData,
  messageScheme,
  openMessage,
  verifyMessageSignature,
} from './message.js';
import type { SignatureProvider } from './signatures.js';
import type { FeedEvent } from './sse.js';
import type { EpochStore } from './stores.js';
import { escapeControls, shortId } from './text.js';
import { MemoryTranscriptStore, Transcript, type TranscriptStore } from './transcript.js';
import { KeyTrust, type TrustOptions } from './trust.js';
import type { UserKeys } from './user-keys.js';
import { checkChat, checkEvent, checkMessage, checkUnavailable } from './validate.js';

/** A post refused with 429 and a `Retry-After` of at most this many seconds is sent again (as the same message), this many times. */
const MAX_WAIT_429_S = 5;
const RETRIES_429 = 2;

export interface ClientOptions
  extends TrustOptions,
    Pick<MemberCommitsOptions, 'onCommitRefused' | 'commitAlgorithm' | 'onInvitedAgain'> {
  username: string;
  keys: UserKeys;
  epochs: EpochStore;
  /** Where the device id, counters and each chat's transcript checks are kept (default: memory). */
  transcripts?: TranscriptStore;
  /** Told of each members-mode epoch accepted: its change of members and who made it. */
  onMemberChange?: (change: MemberChange) => void;
  /** Run once on close, after the logout (the CLI closes its connections). */
  onClose?: () => Promise<void>;
}

/**
 * A logged-in user with their keys: verifies every envelope before unwrapping it and every
 * message before showing it, and pins the server's and peers' keys on first use
 * (protocol.md, "What every client checks itself"). It holds three collaborators, wired here:
 * `trust` (the server's and peers' keys, pinned), `chatKeys` (every envelope verified, the chat
 * keys kept) and `commits` (members mode: pending epochs committed, the stream's key events).
 */
export class Client {
  readonly api: Api;
  readonly username: string;
  /** This user's own keys. */
  readonly keys: UserKeys;
  readonly provider: SignatureProvider;
  readonly trust: KeyTrust;
  readonly chatKeys: ChatKeys;
  readonly commits: MemberCommits;
  /** Transcript integrity: this device's counters and the checks of every message received. */
  readonly transcript: Transcript;
  /** Posts to a chat one at a time, so that this device's counters follow the chat's seqs. */
  private readonly sending = new Map<string, Promise<unknown>>();
  /** This client's own `POST /chats` under way, and the chats they made (their `chat.created` is no news). */
  private readonly creating = new Set<Promise<unknown>>();
  private readonly created = new Set<string>();

  constructor(private readonly options: ClientOptions) {
    const { api, username, keys, epochs } = options;
    this.api = api;
    this.username = username;
    this.keys = keys;
    this.provider = options.provider;
    this.trust = new KeyTrust(options);
    this.chatKeys = new ChatKeys({
      api,
      trust: this.trust,
      username,
      keys,
      epochs,
      onMemberChange: options.onMemberChange,
    });
    this.commits = new MemberCommits({
      api,
      trust: this.trust,
      chatKeys: this.chatKeys,
      username,
      keys,
      epochs,
      invite: (chatId, invitees) => this.invite(chatId, invitees),
      onCommitRefused: options.onCommitRefused,
      commitAlgorithm: options.commitAlgorithm,
      onInvitedAgain: options.onInvitedAgain,
    });
    this.transcript = new Transcript({
      api,
      username,
      store: options.transcripts ?? new MemoryTranscriptStore(),
      verify: (data) => this.verify(data, data.chatId),
    });
  }

  /** Logs in and pins the server key; refused (and logged out at once) when it changed. */
  static async login(options: ClientOptions & { password: string }): Promise<Client> {
    const client = new Client(options);
    await client.start(options.password);
    return client;
  }

  /** When this session's token expires (from the login's answer; undefined for a resumed one). */
  expiresAt?: string;

  /** Logs in, then pins the server key; logs out at once when that is refused. */
  async start(password: string): Promise<void> {
    this.expiresAt = (await this.api.login(this.username, password)).expiresAt;
    await this.pinServer();
  }

  /**
   * Carries on a session logged in before (a token kept by `securechat login`): the server key is
   * pinned as at a login; a token the server refuses (expired, revoked) is an ApiError 401.
   */
  async resume(token: string): Promise<void> {
    this.api.token = token;
    await this.pinServer();
  }

  /** Ends this client without logging out: its token stays valid, for a later {@link resume}. */
  async detach(): Promise<void> {
    this.api.token = undefined;
    await this.close();
  }

  private async pinServer(): Promise<void> {
    try {
      await this.trust.pinServerKey();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /**
   * That the key store this client was given is this user's: each of its public keys' fingerprint
   * is the one the server has registered for the user (as the page checks the files picked).
   * Otherwise every message would be refused later, for a reason nobody could see.
   */
  async checkOwnKeys(): Promise<void> {
    const res = await this.api.getUserKeys(this.username);
    const registered = (await checkedKeySet(this.provider, res?.encryptionKey, res?.signingKeys))
      .fingerprints;
    const mine = await this.ownFingerprints();
    const differ = (Object.keys(mine) as (keyof Fingerprints)[]).filter((k) => mine[k] !== registered[k]);
    if (differ.length > 0)
      throw new ClientError(
        `these are not ${escapeControls(this.username)}'s keys: the ${differ.join(', ')} key's fingerprint differs from the one registered on the server`,
      );
  }

  /** The user's own fingerprints, to compare out of band. */
  async ownFingerprints(): Promise<Fingerprints> {
    const pub = this.keys.publicKeys;
    return (await checkedKeySet(this.provider, pub.encryption, pub.signing)).fingerprints;
  }

  /**
   * POST /chats: the answer checked (a chat just created by this user, new to this client, at
   * epoch 1; a replayed answer is refused before anything is sent to it), its envelope accepted.
   */
  async createChat(
    invitees: string[],
    options: { keyMode?: 'server' | 'members' } = {},
  ): Promise<{ chat: Chat; unavailable: Unavailable }> {
    const members = options.keyMode === 'members';
    const { commits, chatKeys } = this;
    const request = commits.adding(
      NEW_CHAT,
      () => this.api.createChat(members ? { invitees, keyMode: 'members' } : { invitees }),
      (answer) => {
        checkChat(answer?.chat);
        checkUnavailable(answer.unavailable);
        checkNewChat(answer.chat, this.username, this.options.epochs, members ? 'members' : 'server');
        this.created.add(answer.chat.id);
        chatKeys.noteChat(answer.chat);
        // only the invitees asked for here may be in the first epoch this client commits
        if (members) commits.askFor(answer.chat, invitees);
      },
    );
    this.creating.add(request);
    const res = await request.finally(() => this.creating.delete(request));
    if (members) {
      const outcome = await commits.commitPending(res.chat.id);
      if (outcome.status === 'refused')
        throw new EnvelopeRefused(`the new chat's first epoch: ${outcome.reason}`);
      return { chat: outcome.status === 'committed' ? outcome.chat : res.chat, unavailable: res.unavailable };
    }
    await chatKeys.accept(res.keyEnvelope, { chatId: res.chat.id, epoch: res.chat.epoch });
    return { chat: res.chat, unavailable: res.unavailable };
  }

  /**
   * `chat.created` (protocol.md: to every session of the creator): the chat, checked, when this
   * user made it elsewhere (another device or tab); undefined for one this client's own request
   * made (its answer is awaited first, so the event may come before it). Its key is not taken
   * from the event: it is asked for (`GET /chats/{id}/key`, verified) when first needed.
   */
  async createdElsewhere(event: FeedEvent): Promise<Chat | undefined> {
    checkEvent(event.type, event.data);
    const chat: Chat = event.data.chat;
    if (chat.createdBy !== this.username)
      throw new ClientError(
        `chat ${shortId(chat.id)} was created by ${escapeControls(chat.createdBy)}, not by you`,
      );
    await Promise.allSettled([...this.creating]);
    if (this.created.has(chat.id)) return undefined;
    this.chatKeys.noteChat(chat);
    return chat;
  }

  /** POST /chats/{chatId}/invite, its answer checked (and, members mode, its addition committed). */
  async invite(chatId: string, invitees: string[]): Promise<{ chat: Chat; unavailable: Unavailable }> {
    const { commits } = this;
    const res = await commits.adding(
      chatId,
      () => this.api.inviteToChat(chatId, { invitees }),
      (answer) => {
        checkChat(answer?.chat);
        checkUnavailable(answer.unavailable);
        // an invitation vouches only for the chat it was made in
        if (answer.chat.id !== chatId)
          throw new ClientError(
            `the server answered the invitation to chat ${shortId(chatId)} with chat ${shortId(answer.chat.id)}; nothing taken`,
          );
        this.chatKeys.noteChat(answer.chat);
        if (answer.chat.keyMode === 'members' && answer.chat.pending) commits.askFor(answer.chat, invitees);
      },
    );
    if (res.chat.keyMode === 'members' && res.chat.pending) {
      const outcome = await commits.commitPending(chatId);
      // a removal or rotation that came first replaced the addition: invited again after it
      const again = await commits.inviteAgain(chatId);
      if (again) return { chat: again.chat, unavailable: res.unavailable };
      if (outcome.status === 'committed') return { chat: outcome.chat, unavailable: res.unavailable };
    }
    return res;
  }

  /** POST /chats/{chatId}/join, its answer checked and its envelope accepted. */
  async join(chatId: string): Promise<Chat> {
    const res = await this.api.joinChat(chatId);
    checkChat(res?.chat);
    this.chatKeys.noteChat(res.chat);
    await this.chatKeys.accept(res.keyEnvelope, { chatId, epoch: res.chat.epoch, keyMode: res.chat.keyMode });
    await this.transcript.joined(chatId); // the transcript checks start over where this membership does
    // members mode: a removal or rotation may have waited for a joined member, as this user now is
    if (res.chat.keyMode === 'members' && res.chat.pending) await this.commits.commitPending(chatId);
    return res.chat;
  }

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
    const signingKey = this.keys.signing[alg];
    if (signingKey === undefined) throw new ClientError(`this client does not sign with ${alg}`);
    return composeMessage(this.provider, {
      chatId,
      epoch,
      sender: this.username,
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
    const transcript = await this.transcript.next(chatId, postId);
    try {
      const sent = await this.post(chatId, text, alg, transcript, postId);
      this.transcript.sent(chatId, postId);
      return sent;
    } catch (error) {
      if (error instanceof ApiError && error.code === 'DUPLICATE_MESSAGE')
        this.transcript.sent(chatId, postId);
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
    let epoch = this.options.epochs.highestEpoch(chatId);
    const { chatKeys } = this;
    let key = epoch === undefined ? undefined : await chatKeys.chatKey(chatId, epoch);
    if (epoch === undefined || !key) ({ epoch, key } = await chatKeys.currentKey(chatId));
    const post = async (e: number, k: CryptoKey) =>
      this.api.postMessage(chatId, await this.compose(chatId, e, k, text, alg, transcript, id));
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
        const prev = await this.transcript.prevAfterRefusal(chatId, transcript.prev.seq);
        return this.post(chatId, text, alg, { ...transcript, prev }, id, tries);
      }
      if (error instanceof ApiError && error.code === 'REKEY_PENDING') {
        // members mode: make the waiting key if this user may, then send under it
        const outcome = await this.commits.commitPending(chatId);
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

  /**
   * Verifies that the message is of the chat being shown and the sender's signature (against a
   * peer's keys fetched and pinned, this user's own), then decrypts. Showing each (chatId, id) once is the caller's view's job.
   */
  async read(data: MessageData, chatId: string): Promise<string> {
    await this.checkSignature(data, chatId);
    const epoch = data.message.epoch;
    // A refused envelope is the reason shown; a key that does not exist for us is "predates you".
    const key = Number.isSafeInteger(epoch) ? await this.chatKeys.chatKey(data.chatId, epoch) : undefined;
    if (!key)
      throw new MessageRefused(
        `no key for epoch ${escapeControls(String(epoch))} of this chat (it predates you)`,
      );
    return openMessage(key, data);
  }

  /** The shape, the chat and the sender's signature of a message; throws {@link MessageRefused}. */
  private async checkSignature(data: MessageData, chatId: string): Promise<void> {
    checkMessage(data); // the shape first: a malformed one is refused
    const alg = messageScheme(data, chatId);
    // this user's own messages (sent from another device) under its own keys, not a fetched copy
    const signingKey = await this.chatKeys.signingKeyOf(data.sender, alg, data.receivedAt);
    if (!(await verifyMessageSignature(this.provider, signingKey, data)))
      throw new MessageRefused(
        `the ${alg} signature does not verify against ${escapeControls(data.sender)}'s key`,
      );
  }

  /** Whether the message is well-formed, of the chat, and signed by its sender (nothing decrypted). */
  async verify(data: MessageData, chatId: string): Promise<boolean> {
    try {
      await this.checkSignature(data, chatId);
      return true;
    } catch {
      return false;
    }
  }

  private closing?: Promise<void>;

  /** Logs out and closes, once, whichever exit path (quit, signal, broken pipe, error) calls it. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** What close() does, once. */
  private async shutdown(): Promise<void> {
    // transcript warnings that wait for their write (at most a second's worth) are written first
    await this.transcript.flush().catch(() => undefined);
    try {
      await this.api.logout();
    } catch {
      // the token may already be gone (server restarted with a new secret, or expired)
    }
    await this.options.onClose?.();
  }
}
