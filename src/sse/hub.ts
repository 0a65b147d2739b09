import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BusMessage } from '../bus/types.js';
import type { StoredEvent } from '../store/types.js';
import { SseConnection, type StreamOwner } from './connection.js';

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

export interface HubOptions {
  replay: ReplaySource;
  heartbeatMs: number;
  bufferBytes: number;
  log: { warn: (obj: object, msg: string) => void };
}

const REPLAY_PAGE = 500;
/** A replay page holds at most this much event data (one event at least), so a replay of large
 * messages is read from the store a few at a time, not 500 at once. */
export const REPLAY_PAGE_BYTES = 512 * 1024;

/** Holds this instance's open streams and writes bus messages to the ones they are for. */
export function createHub({ replay, heartbeatMs, bufferBytes, log }: HubOptions) {
  const byUser = new Map<string, Set<SseConnection>>();
  const all = new Set<SseConnection>();

  // One timer for every stream; a stream gets a ping only when it has been quiet.
  const idle = Math.max(5, Math.floor(heartbeatMs / 2));
  const heartbeat = setInterval(() => {
    const quietSince = Date.now() - idle;
    for (const connection of all) if (connection.lastWrite <= quietSince) connection.comment('ping');
  }, idle);
  heartbeat.unref();

  const onSlow = (connection: SseConnection) => {
    log.warn({ username: connection.owner.username, bufferBytes }, 'stream cut: client reads too slowly');
  };

  function remove(connection: SseConnection): void {
    all.delete(connection);
    const set = byUser.get(connection.owner.username);
    set?.delete(connection);
    if (set?.size === 0) byUser.delete(connection.owner.username);
  }

  async function replayInto(connection: SseConnection, lastEventId: string): Promise<void> {
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

  return {
    /** Takes over the response: headers out at once, replay after Last-Event-ID, then live events. */
    async open(
      req: IncomingMessage,
      res: ServerResponse,
      owner: StreamOwner,
      lastEventId: string | undefined,
      onClose: () => void,
    ): Promise<void> {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.flushHeaders();
      req.socket.setNoDelay(true);
      const connection = new SseConnection(owner, res, bufferBytes, onSlow);
      all.add(connection);
      const set = byUser.get(owner.username) ?? new Set<SseConnection>();
      set.add(connection);
      byUser.set(owner.username, set);
      res.on('close', () => {
        connection.closed = true;
        remove(connection);
        onClose();
      });
      connection.comment('connected');
      if (lastEventId !== undefined) {
        try {
          await replayInto(connection, lastEventId);
        } catch (error) {
          connection.close();
          throw error;
        }
      }
      connection.goLive();
    },

    deliver(message: BusMessage): void {
      if (message.kind === 'close-session') {
        for (const connection of byUser.get(message.username) ?? []) {
          if (connection.owner.sessionId === message.sessionId) connection.close();
        }
        return;
      }
      const event = { type: message.type, data: message.data, id: message.id };
      if (message.to === 'everyone') {
        for (const connection of all) connection.deliver(event);
        return;
      }
      for (const username of message.to) {
        for (const connection of byUser.get(username) ?? []) connection.deliver(event);
      }
    },

    get size(): number {
      return all.size;
    },

    /** Streams this user holds on this instance. */
    count(username: string): number {
      return byUser.get(username)?.size ?? 0;
    },

    /** Ends every stream (shutdown); clients reconnect with Last-Event-ID. */
    closeAll(): void {
      clearInterval(heartbeat);
      for (const connection of [...all]) connection.close(1000);
    },
  };
}

export type Hub = ReturnType<typeof createHub>;
