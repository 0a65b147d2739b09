import type { StoredEvent } from '../store/message-types.js';
import type { SseConnection } from './connection.js';

export interface ReplaySource {
  bounds(): Promise<{ prunedThrough: number; latest: number }>;
  /** At most `limit` events, and no more than fit in `maxBytes` (but at least one). */
  after(username: string, afterId: number, limit: number, maxBytes: number): Promise<StoredEvent[]>;
  /** The chats the user is a member of now: replay re-checks membership. */
  chatsOf(username: string): Promise<Set<string>>;
}

/** Whether a stored event may still go to `username`, who is now a member of `chats`. */
function stillEntitled(event: StoredEvent, username: string, chats: Set<string>): boolean {
  if (event.chatId !== undefined && chats.has(event.chatId)) return true;
  // The event's data is read only when its column does not settle it: an event stored without
  // one (by an older release), or a member.left for a chat the user is no longer in.
  if (event.chatId !== undefined && event.type !== 'member.left') return false;
  const data = JSON.parse(event.data) as { chatId?: string; chat?: { id: string }; username?: string };
  const chatId = data.chatId ?? data.chat?.id;
  if (chatId === undefined || chats.has(chatId)) return true;
  // Someone who left still learns that they left.
  return event.type === 'member.left' && data.username === username;
}

const REPLAY_PAGE = 500;
/** A replay page holds at most this much event data (one event at least), so a replay of large
 * messages is read from the store a few at a time, not 500 at once. */
export const REPLAY_PAGE_BYTES = 512 * 1024;

/**
 * Writes to `connection` the stored events after `lastEventId` that its owner may still see, page
 * by page at the reader's pace, or a `resync` when that id is unknown or its history was pruned.
 */
export async function replayInto(
  replay: ReplaySource,
  connection: SseConnection,
  lastEventId: string,
): Promise<void> {
  const resync = (reason: string) => connection.send({ type: 'resync', data: JSON.stringify({ reason }) });
  if (!/^\d{1,15}$/.test(lastEventId)) return resync('unknown-event-id');
  const from = Number(lastEventId);
  const { prunedThrough, latest } = await replay.bounds();
  if (from > latest) return resync('unknown-event-id');
  if (from < prunedThrough) return resync('history-pruned');
  let cursor = from;
  connection.lastId = from;
  const username = connection.owner.username;
  const chats = await replay.chatsOf(username);
  // Events after `latest` were committed after this stream was registered: they come live.
  while (cursor < latest && !connection.closed) {
    const page = await replay.after(username, cursor, REPLAY_PAGE, REPLAY_PAGE_BYTES);
    // A prune since the last page may have taken events this page skipped over: say so.
    if ((await replay.bounds()).prunedThrough > cursor) return resync('history-pruned');
    if (page.length === 0) return;
    for (const event of page) if (stillEntitled(event, username, chats)) await connection.sendPaced(event);
    cursor = page[page.length - 1].id;
  }
}
