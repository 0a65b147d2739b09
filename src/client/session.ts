import { type ChatView, checkNewChat, type Unavailable } from './chats.js';
import { ApiError, ClientError, EnvelopeRefused, MessageRefused } from './errors.js';
import type { SignatureAlgorithm } from './keys.js';
import { MemberCommits, type MemberCommitsOptions, NEW_CHAT } from './member-commits.js';
import type { AnyKeyEnvelope as KeyEnvelope } from './members.js';
import {
  composeMessage,
  type MessageBody,
  type MessageData,
  messageScheme,
  openMessage,
  verifyMessageSignature,
} from './message.js';
import { escapeControls, shortId } from './text.js';
import { checkChat, checkMessage, checkUnavailable } from './validate.js';

export type ClientOptions = MemberCommitsOptions;

/**
 * A logged-in user with their keys: verifies every envelope before unwrapping it and every
 * message before showing it, and pins the server's and peers' keys on first use
 * (protocol.md, "What every client checks itself").
 */
export class Client extends MemberCommits {
  /** Logs in and pins the server key; refused (and logged out at once) when it changed. */
  static async login(options: ClientOptions & { password: string }): Promise<Client> {
    const client = new Client(options);
    await client.start(options.password);
    return client;
  }

  /** Logs in, then pins the server key; logs out at once when that is refused. */
  async start(password: string): Promise<void> {
    await this.api.login(this.username, password);
    try {
      await this.pinServerKey();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /**
   * POST /chats: the answer checked (a chat just created by this user, new to this client, at
   * epoch 1; a replayed answer is refused before anything is sent to it), its envelope accepted.
   */
  async createChat(
    invitees: string[],
    options: { keyMode?: 'server' | 'members' } = {},
  ): Promise<{ chat: ChatView; unavailable: Unavailable }> {
    const members = options.keyMode === 'members';
    const res = await this.adding(
      NEW_CHAT,
      () =>
        this.api.call<{ chat: ChatView; keyEnvelope: KeyEnvelope; unavailable: Unavailable }>(
          'POST',
          '/chats',
          members ? { invitees, keyMode: 'members' } : { invitees },
        ),
      (answer) => {
        checkChat(answer?.chat);
        checkUnavailable(answer.unavailable);
        checkNewChat(answer.chat, this.username, this.options.epochs, members ? 'members' : 'server');
        this.noteChat(answer.chat);
        // only the invitees asked for here may be in the first epoch this client commits
        if (members) this.askFor(answer.chat, invitees);
      },
    );
    if (members) {
      const outcome = await this.commitPending(res.chat.id);
      if (outcome.status === 'refused')
        throw new EnvelopeRefused(`the new chat's first epoch: ${outcome.reason}`);
      return { chat: outcome.status === 'committed' ? outcome.chat : res.chat, unavailable: res.unavailable };
    }
    await this.accept(res.keyEnvelope, { chatId: res.chat.id, epoch: res.chat.epoch });
    return { chat: res.chat, unavailable: res.unavailable };
  }

  /** POST /chats/{chatId}/invite, its answer checked. */
  override async invite(
    chatId: string,
    invitees: string[],
  ): Promise<{ chat: ChatView; unavailable: Unavailable }> {
    const res = await this.adding(
      chatId,
      () =>
        this.api.call<{ chat: ChatView; unavailable: Unavailable }>(
          'POST',
          `/chats/${encodeURIComponent(chatId)}/invite`,
          { invitees },
        ),
      (answer) => {
        checkChat(answer?.chat);
        checkUnavailable(answer.unavailable);
        // an invitation vouches only for the chat it was made in
        if (answer.chat.id !== chatId)
          throw new ClientError(
            `the server answered the invitation to chat ${shortId(chatId)} with chat ${shortId(answer.chat.id)}; nothing taken`,
          );
        this.noteChat(answer.chat);
        if (answer.chat.keyMode === 'members' && answer.chat.pending) this.askFor(answer.chat, invitees);
      },
    );
    if (res.chat.keyMode === 'members' && res.chat.pending) {
      const outcome = await this.commitPending(chatId);
      // a removal or rotation that came first replaced the addition: invited again after it
      const again = await this.inviteAgain(chatId);
      if (again) return { chat: again.chat, unavailable: res.unavailable };
      if (outcome.status === 'committed') return { chat: outcome.chat, unavailable: res.unavailable };
    }
    return res;
  }

  /** POST /chats/{chatId}/join, its answer checked and its envelope accepted. */
  async join(chatId: string): Promise<ChatView> {
    const res = await this.api.call<{ chat: ChatView; keyEnvelope: KeyEnvelope }>(
      'POST',
      `/chats/${encodeURIComponent(chatId)}/join`,
    );
    checkChat(res?.chat);
    this.noteChat(res.chat);
    await this.accept(res.keyEnvelope, { chatId, epoch: res.chat.epoch, keyMode: res.chat.keyMode });
    // members mode: a removal or rotation may have waited for a joined member, as this user now is
    if (res.chat.keyMode === 'members' && res.chat.pending) await this.commitPending(chatId);
    return res.chat;
  }

  /** A sealed, signed message body of this user. */
  compose(
    chatId: string,
    epoch: number,
    key: CryptoKey,
    text: string,
    alg: SignatureAlgorithm,
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
    });
  }

  /**
   * Encrypts, signs and posts under the highest epoch seen; a STALE_EPOCH answer is re-encrypted
   * under the new key and sent once more, if that key is newer and is the epoch the answer named.
   */
  async send(chatId: string, text: string, alg: SignatureAlgorithm): Promise<{ seq: number; epoch: number }> {
    let epoch = this.options.epochs.highestEpoch(chatId);
    let key = epoch === undefined ? undefined : await this.chatKey(chatId, epoch);
    if (epoch === undefined || !key) ({ epoch, key } = await this.currentKey(chatId));
    const post = async (e: number, k: CryptoKey) =>
      this.api.call<{ seq: number }>(
        'POST',
        `/chats/${encodeURIComponent(chatId)}/messages`,
        await this.compose(chatId, e, k, text, alg),
      );
    try {
      return { ...(await post(epoch, key)), epoch };
    } catch (error) {
      if (error instanceof ApiError && error.code === 'REKEY_PENDING') {
        // members mode: make the waiting key if this user may, then send under it
        const outcome = await this.commitPending(chatId);
        if (outcome.status !== 'committed' && outcome.status !== 'lost')
          throw new ClientError(
            `chat ${shortId(chatId)}: a new key waits for another member to make it; send again shortly`,
          );
        const current = await this.currentKey(chatId);
        return { ...(await post(current.epoch, current.key)), epoch: current.epoch };
      }
      if (!(error instanceof ApiError) || error.code !== 'STALE_EPOCH') throw error;
      const named = /\bepoch (\d+)\b/.exec(error.detail);
      const current = await this.currentKey(chatId, named ? Number(named[1]) : undefined);
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
    checkMessage(data); // the shape first: a malformed one is refused
    const alg = messageScheme(data, chatId);
    // this user's own messages (sent from another device) under its own keys, not a fetched copy
    const signingKey = await this.signingKeyOf(data.sender, alg);
    if (!(await verifyMessageSignature(this.provider, signingKey, data)))
      throw new MessageRefused(
        `the ${alg} signature does not verify against ${escapeControls(data.sender)}'s key`,
      );
    const epoch = data.message.epoch;
    // A refused envelope is the reason shown; a key that does not exist for us is "predates you".
    const key = Number.isSafeInteger(epoch) ? await this.chatKey(data.chatId, epoch) : undefined;
    if (!key)
      throw new MessageRefused(
        `no key for epoch ${escapeControls(String(epoch))} of this chat (it predates you)`,
      );
    return openMessage(key, data);
  }

  private closing?: Promise<void>;

  /** Logs out and closes, once, whichever exit path (quit, signal, broken pipe, error) calls it. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** What close() does, once. */
  protected async shutdown(): Promise<void> {
    try {
      await this.api.logout();
    } catch {
      // the token may already be gone (server restarted with a new secret, or expired)
    }
  }
}
