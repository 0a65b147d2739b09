import {
  type Api,
  type Chat,
  Client,
  ClientError,
  checkChat,
  checkEvent,
  describeChange,
  describeInvitedAgain,
  escapeControls,
  type FeedEvent,
  follow,
  type InvitedAgain,
  isUsername,
  listAllChats,
  type MemberChange,
  type SignatureAlgorithm,
  shortId,
  type TrustHints,
  type UserKeys,
} from '../../src/client/index.js';
import type { BrowserStores } from './stores.js';

/** The signature scheme the user picked in the Signature select (kept in this browser). */
export const SCHEME_SETTING = 'securechat.signature';

/** What a refusal tells the user to do, in this page's words. */
const WEB_HINTS: TrustHints = {
  trustServer: 'forget this browser’s data for the site only if the operator confirms the new fingerprint',
  showServer: 'compare the server key’s fingerprint first',
  compare: (name) => `see ${name}'s new fingerprints under Fingerprints`,
  trust: (name) => `press "Trust new key" for ${name} there`,
};

export type SessionEvent =
  | { type: 'status'; state: 'connected' | 'reconnecting' | 'stopped'; detail?: string }
  | { type: 'presence' }
  | { type: 'chats'; chatId?: string }
  | { type: 'message'; data: FeedEvent['data'] }
  | { type: 'notice'; text: string; chatId?: string; warning?: boolean }
  | { type: 'trust' };

/**
 * The logged-in user with their keys: the client library's {@link Client} (every envelope and
 * message checked before use), the event stream, who is online and the user's chats. Panels
 * listen to it and call it; it knows nothing of the DOM.
 */
export class WebSession {
  readonly client: Client;
  readonly online = new Set<string>();
  readonly chats = new Map<string, Chat>();
  private readonly listeners = new Set<(event: SessionEvent) => void>();
  private readonly stop = new AbortController();

  constructor(
    readonly api: Api,
    readonly username: string,
    keys: UserKeys,
    readonly stores: BrowserStores,
    provider: Client['provider'],
  ) {
    this.client = new Client({
      api,
      username,
      keys,
      provider,
      pins: stores,
      epochs: stores,
      hints: WEB_HINTS,
      ...this.membersOptions(),
    });
  }

  on(listener: (event: SessionEvent) => void): void {
    this.listeners.add(listener);
  }

  emit(event: SessionEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  /** Pins the server key (a changed one is refused), loads chats and who is online, and follows the stream. */
  async start(): Promise<void> {
    await this.client.trust.pinServerKey();
    await this.reload();
    follow(
      this.api,
      {
        onEvent: (event) => this.take(event),
        onStatus: (state, detail) => {
          this.emit({ type: 'status', state, detail });
          // presence missed while the stream was down: ask again
          if (state === 'connected') this.reloadOnline().catch(() => undefined);
          if (state === 'connected') void this.commitWaiting();
        },
      },
      this.stop.signal,
    ).then(
      () => this.emit({ type: 'status', state: 'stopped' }),
      (error) => this.emit({ type: 'status', state: 'stopped', detail: (error as Error).message }),
    );
  }

  /** Chats and presence over REST (at start, and on `resync`). */
  async reload(): Promise<void> {
    for (const chat of await listAllChats(this.api)) {
      this.client.chatKeys.noteChat(chat);
      this.chats.set(chat.id, chat);
    }
    this.emit({ type: 'chats' });
    await this.reloadOnline();
  }

  private async reloadOnline(): Promise<void> {
    const res = await this.api.listOnlineUsers();
    if (!Array.isArray(res?.users)) return;
    this.online.clear();
    for (const name of res.users) if (isUsername(name)) this.online.add(name);
    this.emit({ type: 'presence' });
  }

  /** A chat as the server has it now (after a membership change). */
  async refreshChat(chatId: string): Promise<void> {
    const chat = await this.api.getChat(chatId);
    checkChat(chat);
    this.setChat(chat, chatId);
  }

  /**
   * A chat as an answer has it; `asked` is the chat the request named, which the answer must be.
   * `since` is {@link mark} taken before the request: an answer is as old as its request, so if
   * the stream changed the chat's members meanwhile (a `member.joined` taken before the answer
   * came, even before the page knew the chat), the chat is read again rather than shown as the
   * older answer has it.
   */
  setChat(chat: Chat, asked?: string, since?: number): void {
    if (asked !== undefined && chat.id !== asked)
      throw new ClientError(
        `the server answered with chat ${shortId(chat.id)} for chat ${shortId(asked)}; nothing changed`,
      );
    this.client.chatKeys.noteChat(chat);
    this.chats.set(chat.id, chat);
    this.emit({ type: 'chats', chatId: chat.id });
    this.flushChanges(chat.id);
    if (since !== undefined && (this.changedAt.get(chat.id) ?? 0) > since)
      this.refreshChat(chat.id).catch((error) =>
        this.emit({
          type: 'notice',
          chatId: chat.id,
          warning: true,
          text: `the chat could not be read again: ${(error as Error).message}`,
        }),
      );
  }

  /** Events taken that change a chat's members or epoch, and per chat the count at its latest. */
  private changes = 0;
  private readonly changedAt = new Map<string, number>();

  /** Where the stream is now: taken before a request whose answer is given to {@link setChat}. */
  mark(): number {
    return this.changes;
  }

  /** The highest epoch this browser has a key for (what is sent under), else the chat's. */
  epochOf(chatId: string): number | undefined {
    return this.stores.highestEpoch(chatId) ?? this.chats.get(chatId)?.epoch;
  }

  /** One event of the stream, checked before use; a refused one is said, never used. */
  private async take(event: FeedEvent): Promise<void> {
    const d = event.data;
    try {
      checkEvent(event.type, d);
      if (['member.joined', 'member.left', 'chat.key', 'chat.rekey'].includes(event.type))
        this.changedAt.set(d.chatId, ++this.changes);
      if (await this.takeMembersEvent(event)) return;
      switch (event.type) {
        case 'presence':
          if (d.online) this.online.add(d.username);
          else this.online.delete(d.username);
          this.emit({ type: 'presence' });
          return;
        case 'chat.invited':
          // with the chat's mode: a "members" chat's key made by the server is a downgrade
          await this.client.commits.handleKeyEvent(event);
          this.setChat(d.chat);
          this.emit({ type: 'notice', chatId: d.chat.id, text: `${d.invitedBy} invited you to a chat` });
          return;
        case 'chat.key':
          await this.client.chatKeys.accept(d.keyEnvelope, { chatId: d.chatId });
          this.emit({ type: 'chats', chatId: d.chatId });
          this.emit({
            type: 'notice',
            chatId: d.chatId,
            text: `the chat key rotated (epoch ${d.keyEnvelope.epoch})`,
          });
          return;
        case 'member.joined':
        case 'member.left': {
          const self = d.username === this.username;
          if (self && event.type === 'member.left') {
            this.chats.delete(d.chatId);
            this.emit({ type: 'chats', chatId: d.chatId });
            return;
          }
          // a chat not (yet) in the list: one this page's own request made, whose answer is on
          // its way; said once it is there (and read again then, see setChat)
          if (this.chats.has(d.chatId)) await this.refreshChat(d.chatId);
          const verb = event.type === 'member.joined' ? 'joined' : 'left';
          this.sayChange(d.chatId, `${self ? 'you' : d.username} ${verb}`);
          return;
        }
        case 'message':
          this.emit({ type: 'message', data: d });
          return;
        case 'resync':
          this.emit({ type: 'notice', text: 'the server could not replay everything missed; reloading' });
          await this.reload();
          return;
      }
    } catch (error) {
      // `chat.invited` names its chat in `chat.id`
      const chatId: unknown = d?.chatId ?? d?.chat?.id;
      this.emit({
        type: 'notice',
        // said in the chat's own log when it is one of this user's chats, else above the list
        chatId: typeof chatId === 'string' && this.chats.has(chatId) ? chatId : undefined,
        warning: true,
        text: `${event.type} event refused: ${(error as Error).message}`,
      });
    }
  }

  // ---- Chats the server cannot read (keyMode "members"): as the CLI does it, through src/client ----

  /** Changes of members accepted for a chat not (yet) in the list: said once it is (an invitation). */
  private readonly waitingChanges = new Map<string, string[]>();

  /**
   * The client library's members-mode hooks: every change of members said in its chat's log with
   * who made it; a pending epoch this user will not commit said with the reason; commits signed
   * with the scheme picked under Signature (never DSA: the page has no DSA signing key).
   */
  private membersOptions() {
    return {
      onMemberChange: (change: MemberChange) =>
        this.sayChange(change.chatId, describeChange(change, this.username)),
      // not a warning by itself: another member's invitation is one this user did not ask for
      onCommitRefused: (chatId: string, pending: { epoch: number }, reason: string) =>
        this.emit({
          type: 'notice',
          chatId: this.chats.has(chatId) ? chatId : undefined,
          text: `the key of epoch ${escapeControls(String(pending.epoch))} is left to another member: ${reason}`,
        }),
      // an invitation a leave or rotation dropped, made again by this page (or why not)
      onInvitedAgain: (chatId: string, invitees: string[], outcome: InvitedAgain) =>
        this.emit({
          type: 'notice',
          chatId: this.chats.has(chatId) ? chatId : undefined,
          warning: outcome.error !== undefined,
          text: describeInvitedAgain(invitees, outcome),
        }),
      commitAlgorithm: () => (localStorage.getItem(SCHEME_SETTING) ?? 'rsa-pss-sha256') as SignatureAlgorithm,
    };
  }

  private sayChange(chatId: string, text: string): void {
    if (this.chats.has(chatId)) this.emit({ type: 'notice', chatId, text });
    else this.waitingChanges.set(chatId, [...(this.waitingChanges.get(chatId) ?? []), text]);
  }

  private flushChanges(chatId: string): void {
    const waiting = this.waitingChanges.get(chatId);
    this.waitingChanges.delete(chatId);
    for (const text of waiting ?? []) this.emit({ type: 'notice', chatId, text });
  }

  /** On connecting: makes the keys that wait (a removal nobody was online for), where this user may. */
  private async commitWaiting(): Promise<void> {
    try {
      const since = this.mark();
      for (const outcome of (await this.client.commits.commitAllPending()).values())
        if (outcome.status === 'committed') this.setChat(outcome.chat, undefined, since);
    } catch (error) {
      this.emit({
        type: 'notice',
        warning: true,
        text: `making waiting keys failed: ${(error as Error).message}`,
      });
    }
  }

  /**
   * `chat.rekey`: a new epoch of a members-mode chat waits for a member's client to make its key;
   * this one makes it if the rules let this user (the library decides, and says why not). A
   * `chat.key` of a members-mode chat also refreshes the chat (its members changed with it).
   * Returns whether the event was taken here.
   */
  private async takeMembersEvent(event: FeedEvent): Promise<boolean> {
    const d = event.data;
    if (event.type === 'chat.rekey') {
      if (!d.pending) {
        // the library forgets the invitation that failed
        await this.client.commits.handleKeyEvent(event);
        this.emit({
          type: 'notice',
          chatId: d.chatId,
          text: 'the change waiting for a new key was dropped: nobody made the key in time',
        });
      } else {
        const outcome = await this.client.commits.handleKeyEvent(event);
        if (outcome?.status === 'committed') this.setChat(outcome.chat);
      }
      if (this.chats.has(d.chatId)) await this.refreshChat(d.chatId);
      return true;
    }
    if (event.type === 'chat.key' && this.chats.get(d.chatId)?.keyMode === 'members') {
      await this.client.commits.handleKeyEvent(event);
      await this.refreshChat(d.chatId);
      return true;
    }
    return false;
  }

  /** Stops the stream and logs out (the token is revoked). */
  async close(): Promise<void> {
    this.stop.abort();
    await this.client.close();
  }
}
