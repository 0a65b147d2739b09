import { type Chat, type Client, checkEvent, type FeedEvent } from '../../src/client/index.js';
import type { MemberNotices } from './member-notices.js';
import type { SessionEvent } from './session-event.js';

/** What the stream's events change: the session's state, and what it tells the panels. */
export interface FeedTarget {
  readonly username: string;
  readonly client: Client;
  readonly online: Set<string>;
  readonly chats: Map<string, Chat>;
  emit(event: SessionEvent): void;
  setChat(chat: Chat, asked?: string, since?: number): void;
  refreshChat(chatId: string): Promise<void>;
  reload(): Promise<void>;
}

/**
 * The event stream taken into the session, one event at a time: each checked before use (a refused
 * one is said, never used), keys taken by the client library, chats and presence kept current.
 */
export class Feed {
  /** Events taken that change a chat's members or epoch, and per chat the count at its latest. */
  private changes = 0;
  private readonly changedAt = new Map<string, number>();

  constructor(
    private readonly session: FeedTarget,
    private readonly notices: MemberNotices,
  ) {}

  /** Where the stream is now: taken before a request whose answer is given to `setChat`. */
  mark(): number {
    return this.changes;
  }

  /** Whether the stream changed the chat's members or epoch after `mark` was `since`. */
  changedSince(chatId: string, since: number): boolean {
    return (this.changedAt.get(chatId) ?? 0) > since;
  }

  /** One event of the stream, checked before use; a refused one is said, never used. */
  async take(event: FeedEvent): Promise<void> {
    const s = this.session;
    const d = event.data;
    try {
      checkEvent(event.type, d);
      if (['member.joined', 'member.left', 'chat.key', 'chat.rekey'].includes(event.type))
        this.changedAt.set(d.chatId, ++this.changes);
      if (await this.takeMembersEvent(event)) return;
      switch (event.type) {
        case 'presence':
          if (d.online) s.online.add(d.username);
          else s.online.delete(d.username);
          s.emit({ type: 'presence' });
          return;
        case 'chat.invited':
          // with the chat's mode: a "members" chat's key made by the server is a downgrade
          await s.client.commits.handleKeyEvent(event);
          s.setChat(d.chat);
          s.emit({
            type: 'notice',
            chatId: d.chat.id,
            text: `${d.invitedBy} invited you to a chat`,
          });
          return;
        case 'chat.created': {
          // a chat this user started in another tab, on another device or from the CLI: listed
          // now (this page's own is listed by its answer); its key is asked for when it is opened
          // Not awaited: it waits for this page's own POST /chats under way (whose answer lists
          // that chat), and the events behind it must not wait for that answer.
          void s.client.createdElsewhere(event).then(
            (chat) => {
              if (chat && !s.chats.has(chat.id)) s.setChat(chat);
            },
            (error: Error) =>
              s.emit({ type: 'notice', warning: true, text: `chat.created event refused: ${error.message}` }),
          );
          return;
        }
        case 'chat.key':
          await s.client.chatKeys.accept(d.keyEnvelope, { chatId: d.chatId });
          s.emit({ type: 'chats', chatId: d.chatId });
          s.emit({
            type: 'notice',
            chatId: d.chatId,
            text: `the chat key rotated (epoch ${d.keyEnvelope.epoch})`,
          });
          return;
        case 'member.joined':
        case 'member.left': {
          const self = d.username === s.username;
          if (self && event.type === 'member.left') {
            s.chats.delete(d.chatId);
            s.emit({ type: 'chats', chatId: d.chatId });
            return;
          }
          // a chat not (yet) in the list: one this page's own request made, whose answer is on
          // its way; said once it is there (and read again then, see setChat)
          if (s.chats.has(d.chatId)) await s.refreshChat(d.chatId);
          const verb = event.type === 'member.joined' ? 'joined' : 'left';
          this.notices.say(d.chatId, `${self ? 'you' : d.username} ${verb}`);
          return;
        }
        case 'message':
          s.emit({ type: 'message', data: d });
          return;
        case 'account.keys': {
          // the library forgot the old keys already; the new ones are refused until compared
          const hints = s.client.trust.hints;
          s.emit({
            type: 'notice',
            warning: true,
            text:
              d.username === s.username
                ? 'your keys changed: this page signs with the keys it holds'
                : `${d.username}'s keys changed: their new messages are refused until you compare the new fingerprints (${hints.compare(d.username)}) and accept them (${hints.trust(d.username)})`,
          });
          return;
        }
        case 'resync':
          s.emit({
            type: 'notice',
            text: 'the server could not replay everything missed; reloading',
          });
          await s.reload();
          return;
      }
    } catch (error) {
      // `chat.invited` names its chat in `chat.id`
      const chatId: unknown = d?.chatId ?? d?.chat?.id;
      s.emit({
        type: 'notice',
        // said in the chat's own log when it is one of this user's chats, else above the list
        chatId: typeof chatId === 'string' && s.chats.has(chatId) ? chatId : undefined,
        warning: true,
        text: `${event.type} event refused: ${(error as Error).message}`,
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
    const s = this.session;
    const d = event.data;
    if (event.type === 'chat.rekey') {
      if (!d.pending) {
        // the library forgets the invitation that failed
        await s.client.commits.handleKeyEvent(event);
        s.emit({
          type: 'notice',
          chatId: d.chatId,
          text: 'the change waiting for a new key was dropped: nobody made the key in time',
        });
      } else {
        const outcome = await s.client.commits.handleKeyEvent(event);
        if (outcome?.status === 'committed') s.setChat(outcome.chat);
      }
      if (s.chats.has(d.chatId)) await s.refreshChat(d.chatId);
      return true;
    }
    if (event.type === 'chat.key' && s.chats.get(d.chatId)?.keyMode === 'members') {
      await s.client.commits.handleKeyEvent(event);
      await s.refreshChat(d.chatId);
      return true;
    }
    return false;
  }
}
