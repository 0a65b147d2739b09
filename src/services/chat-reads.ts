import type { AnyKeyEnvelope } from '../client/members.js';
import { Errors, unavailable } from '../errors.js';
import { type ChatRecord, EpochConflictError } from '../store/chat-types.js';
import type { Store } from '../store/types.js';
import { decodeCursor, encodeCursor, type ListingCursor } from './chat-cursor.js';
import { MAX_ATTEMPTS } from './chat-retry.js';
import { type View, viewWith } from './chat-view.js';
import { membersOf, type OnlineAmong } from './online.js';

/** The chat if `username` is a member; otherwise CHAT_NOT_FOUND, so ids leak nothing. */
export async function memberChat(store: Store, chatId: string, username: string) {
  const chat = await store.getChat(chatId.toLowerCase());
  const member = chat?.members.find((m) => m.username === username);
  if (!chat || !member) throw new Errors.CHAT_NOT_FOUND(chatId);
  return { chat, member };
}

/** The caller's envelope for the chat's current epoch (written with the epoch, so it is there). */
export async function currentEnvelope(
  store: Store,
  chat: ChatRecord,
  username: string,
): Promise<AnyKeyEnvelope> {
  if (chat.epoch === 0)
    throw new Errors.KEY_NOT_FOUND(
      'The chat has no key yet: its first epoch waits for a member to commit it.',
    );
  const envelope = await store.getEnvelope(chat.id, chat.epoch, username);
  // Only a read that saw half a change could miss it: read again.
  if (!envelope) throw new EpochConflictError(`no envelope for ${username} at epoch ${chat.epoch}`);
  return envelope;
}

export interface ChatReadsDeps {
  store: Store;
  view: View;
  onlineAmong: OnlineAmong;
}

/** What a member reads of their chats: the listing, one chat, and their key envelopes. */
export function chatReads({ store, view, onlineAmong }: ChatReadsDeps) {
  return {
    /** One page of the caller's chats, most recent activity first; `nextCursor` null on the last. */
    async list(username: string, limit: number, cursor?: string) {
      const latest = async () => (await store.eventBounds()).latest;
      const decoded = cursor === undefined ? {} : decodeCursor(cursor);
      // read before the page: whatever commits later has a higher id, and comes in the next pass
      const at: ListingCursor = { ...decoded, bound: decoded.bound ?? (await latest()) };
      const rows = await store.listChats(username, limit + 1, at);
      const page = rows.slice(0, limit);
      const onlineNow = await onlineAmong(membersOf(page));
      const last = page[page.length - 1];
      let next: ListingCursor | undefined;
      if (rows.length > limit) next = { ...at, activeAt: last.activeAt, id: last.id };
      else {
        // this pass is over; chats active since it began (read after the page) come again
        const bound = await latest();
        if ((await store.listChats(username, 1, { since: at.bound })).length > 0)
          next = { since: at.bound, bound };
      }
      return {
        chats: page.map((chat) => viewWith(chat, onlineNow)),
        nextCursor: next ? encodeCursor(next) : null,
      };
    },

    async get(chatId: string, username: string) {
      return view((await memberChat(store, chatId, username)).chat);
    },

    /**
     * The caller's envelope for `epoch` (default: the current one), for any epoch from the one at
     * which their membership began: that is how a new device reads older history.
     */
    async key(chatId: string, username: string, epoch?: number): Promise<AnyKeyEnvelope> {
      for (let i = 1; ; i++) {
        const { chat, member } = await memberChat(store, chatId, username);
        if (epoch !== undefined && epoch !== chat.epoch) {
          const envelope =
            epoch >= member.sinceEpoch && epoch < chat.epoch
              ? await store.getEnvelope(chat.id, epoch, username)
              : undefined;
          if (!envelope)
            throw new Errors.KEY_NOT_FOUND(
              `No key of epoch ${epoch} for you in this chat: yours begin at epoch ${member.sinceEpoch}, and the current one is ${chat.epoch}.`,
            );
          return envelope;
        }
        try {
          return await currentEnvelope(store, chat, username);
        } catch (error) {
          if (!(error instanceof EpochConflictError)) throw error;
          if (i >= MAX_ATTEMPTS) throw unavailable('The chat kept changing; try again.', 1);
        }
      }
    },
  };
}
