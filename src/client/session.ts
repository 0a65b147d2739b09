import type { Api } from './api.js';
import { ChatKeys } from './chat-keys.js';
import { type Chat, checkNewChat, type Unavailable } from './chats.js';
import { ClientError, EnvelopeRefused } from './errors.js';
import { checkOwnKeys, ownFingerprints } from './key-set.js';
import type { Fingerprints } from './keys.js';
import { MemberCommits, type MemberCommitsOptions, NEW_CHAT } from './member-commits.js';
import type { MemberChange } from './members.js';
import type { MessageBody, MessageData } from './message.js';
import { checkSignature, readMessage } from './reading.js';
import { Sender } from './sending.js';
import type { SignatureProvider } from './signatures.js';
import type { FeedEvent } from './sse.js';
import type { EpochStore } from './stores.js';
import { escapeControls, shortId } from './text.js';
import { Transcript } from './transcript.js';
import { MemoryTranscriptStore, type TranscriptStore } from './transcript-store.js';
import { KeyTrust, type TrustOptions } from './trust.js';
import type { UserKeys } from './user-keys.js';
import { checkChat, checkEvent, checkUnavailable } from './validate.js';

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
  /** This user's posts (see {@link Sender}). */
  private readonly sender: Sender;
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
    const { provider, chatKeys, commits, transcript } = this;
    this.sender = new Sender({ api, username, keys, provider, epochs, chatKeys, commits, transcript });
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
   * is the one the server has registered for the user (see {@link checkOwnKeys}).
   */
  checkOwnKeys(): Promise<void> {
    return checkOwnKeys(this.api, this.provider, this.username, this.keys);
  }

  /** The user's own fingerprints, to compare out of band. */
  ownFingerprints(): Promise<Fingerprints> {
    return ownFingerprints(this.provider, this.keys);
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
  compose(...args: Parameters<Sender['compose']>): Promise<MessageBody> {
    return this.sender.compose(...args);
  }

  /**
   * Encrypts, signs and posts under the highest epoch seen (see {@link Sender.send}); `id` is the
   * message's id when it is sent again, a new one otherwise.
   */
  send(...args: Parameters<Sender['send']>): ReturnType<Sender['send']> {
    return this.sender.send(...args);
  }

  /**
   * Verifies that the message is of the chat being shown and the sender's signature (against a
   * peer's keys fetched and pinned, this user's own), then decrypts. Showing each (chatId, id) once is the caller's view's job.
   */
  read(data: MessageData, chatId: string): Promise<string> {
    return readMessage(this, data, chatId);
  }

  /** Whether the message is well-formed, of the chat, and signed by its sender (nothing decrypted). */
  async verify(data: MessageData, chatId: string): Promise<boolean> {
    try {
      await checkSignature(this, data, chatId);
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
