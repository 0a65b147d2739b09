import {
  type Api,
  type Chat,
  Client,
  ClientError,
  checkChat,
  follow,
  isUsername,
  listAllChats,
  type SignatureAlgorithm,
  shortId,
  type TrustHints,
  type UserKeys,
} from '../../src/client/index.js';
import { Feed } from './feed.js';
import { MemberNotices } from './member-notices.js';
import type { SessionEvent } from './session-event.js';
import type { BrowserStores } from './stores.js';
import type { BrowserTranscriptStore } from './transcript.js';

/** The signature scheme the user picked in the Signature select (kept in this browser). */
export const SCHEME_SETTING = 'securechat.signature';

/** What a refusal tells the user to do, in this page's words. */
const WEB_HINTS: TrustHints = {
  trustServer: 'forget this browser’s data for the site only if the operator confirms the new fingerprint',
  showServer: 'compare the server key’s fingerprint first',
  compare: (name) => `see ${name}'s new fingerprints under Fingerprints`,
  trust: (name) => `press "Trust new key" for ${name} there`,
};

/**
 * The logged-in user with their keys: the client library's {@link Client} (every envelope and
 * message checked before use), the event stream (taken by feed.ts), who is online and the user's
 * chats. Panels listen to it and call it; it knows nothing of the DOM.
 */
export class WebSession {
  readonly client: Client;
  readonly online = new Set<string>();
  readonly chats = new Map<string, Chat>();
  private readonly listeners = new Set<(event: SessionEvent) => void>();
  private readonly stop = new AbortController();
  private readonly notices = new MemberNotices(this);
  private readonly feed = new Feed(this, this.notices);

  constructor(
    readonly api: Api,
    readonly username: string,
    /** The keys this session signs and opens with (Replace keys signs its continuity with them). */
    readonly keys: UserKeys,
    readonly stores: BrowserStores,
    provider: Client['provider'],
    transcripts?: BrowserTranscriptStore,
  ) {
    this.client = new Client({
      api,
      username,
      keys,
      provider,
      pins: stores,
      epochs: stores,
      transcripts,
      hints: WEB_HINTS,
      ...this.notices.hooks(),
      // the scheme picked under Signature (never DSA: the page has no DSA signing key)
      commitAlgorithm: () => (localStorage.getItem(SCHEME_SETTING) ?? 'rsa-pss-sha256') as SignatureAlgorithm,
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
        onEvent: (event) => this.feed.take(event),
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
    this.notices.flush(chat.id);
    if (since !== undefined && this.feed.changedSince(chat.id, since))
      this.refreshChat(chat.id).catch((error) =>
        this.emit({
          type: 'notice',
          chatId: chat.id,
          warning: true,
          text: `the chat could not be read again: ${(error as Error).message}`,
        }),
      );
  }

  /** Where the stream is now: taken before a request whose answer is given to {@link setChat}. */
  mark(): number {
    return this.feed.mark();
  }

  /** The highest epoch this browser has a key for (what is sent under), else the chat's. */
  epochOf(chatId: string): number | undefined {
    return this.stores.highestEpoch(chatId) ?? this.chats.get(chatId)?.epoch;
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

  /** Stops the stream and keeps the token: the login goes on in a session with other keys (Replace keys). */
  detach(): void {
    this.stop.abort();
  }

  /** Stops the stream and logs out (the token is revoked). */
  async close(): Promise<void> {
    this.stop.abort();
    await this.client.close();
  }
}
