import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BusMessage } from '../bus/types.js';
import type { StoredEvent } from '../store/types.js';
import { WindowCounter } from '../util/window-counter.js';
import {
  type ConnectionLimits,
  type Framed,
  frame,
  framed,
  SseConnection,
  type StreamOwner,
} from './connection.js';

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
  limits: ConnectionLimits;
  /** Streams one user may hold on this instance, and open per minute. */
  maxStreamsPerUser: number;
  opensPerMinute: number;
  /** Whether a session was revoked (logout): checked again once its stream is registered. */
  isRevoked: (sessionId: string) => Promise<boolean>;
  log: { warn: (obj: object, msg: string) => void };
}

const REPLAY_PAGE = 500;
/** A replay page holds at most this much event data (one event at least), so a replay of large
 * messages is read from the store a few at a time, not 500 at once. */
export const REPLAY_PAGE_BYTES = 512 * 1024;
/**
 * Presence changes within one window go to each stream in one write. The window grows with the
 * streams held (a millisecond per STREAMS_PER_WINDOW_MS of them, from 100 ms up to 1 s), so that
 * presence costs at most about 10 writes per millisecond however many streams there are.
 */
const PRESENCE_WINDOW_MS = { min: 100, max: 1000 };
const STREAMS_PER_WINDOW_MS = 10;
/** Streams written to per turn of the event loop when a window's changes go out. */
const FLUSH_SLICE = 500;
/** The heartbeat visits 1/HEARTBEAT_SLOTS of the streams at a time, so pings spread over the interval. */
const HEARTBEAT_SLOTS = 16;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A stream slot held from the cap's check on, so that concurrent opens cannot pass the cap. */
export interface StreamClaim {
  /** Gives the slot back; only the first call counts. */
  release(): void;
}

export type ClaimResult =
  | { ok: true; claim: StreamClaim }
  | { ok: false; reason: 'too-many-streams' }
  | { ok: false; reason: 'rate-limited'; retryAfterSeconds: number };

/** Holds this instance's open streams and writes bus messages to the ones they are for. */
export function createHub({
  replay,
  heartbeatMs,
  limits,
  maxStreamsPerUser,
  opensPerMinute,
  isRevoked,
  log,
}: HubOptions) {
  const byUser = new Map<string, Set<SseConnection>>();
  const all = new Set<SseConnection>();
  /** Streams each user holds or is opening: the cap counts both. */
  const claimed = new Map<string, number>();
  const opens = new WindowCounter(opensPerMinute, 60_000);

  // Each stream belongs to one of HEARTBEAT_SLOTS groups and the timer visits one group per tick:
  // every stream is looked at once per `idle`, and gets a ping only when it has been quiet that
  // long. Streams that went quiet together (after a broadcast) are pinged in different ticks.
  const idle = Math.max(5, Math.floor(heartbeatMs / 2));
  const slots = Array.from({ length: HEARTBEAT_SLOTS }, () => new Set<SseConnection>());
  const slotOf = new Map<SseConnection, Set<SseConnection>>();
  let opened = 0;
  let tick = 0;
  const heartbeat = setInterval(
    () => {
      const quietSince = Date.now() - idle;
      tick = (tick + 1) % HEARTBEAT_SLOTS;
      for (const connection of slots[tick])
        if (connection.lastWrite <= quietSince) connection.comment('ping');
    },
    Math.max(1, Math.floor(idle / HEARTBEAT_SLOTS)),
  );
  heartbeat.unref();

  // Broadcasts without an id (presence) are gathered for one window, then written once per
  // stream, FLUSH_SLICE streams per turn of the event loop so that no turn writes to every stream.
  // What was gathered is sealed as a numbered part when an event must follow it, or when the
  // window ends. A stream is written the parts it has not had (in one chunk) right before any
  // other event to it, and at the end of the window: presence gathered before an event comes
  // before it on every stream, and an event costs only its own recipients.
  let gathering = '';
  /** Bytes gathered or sealed since the last flush began: a flush starts early at a quarter of the buffer. */
  let unflushedBytes = 0;
  let batchTimer: NodeJS.Timeout | undefined;
  let flushSoon: NodeJS.Immediate | undefined;
  let generation = 0;
  /** Sealed parts not yet written to every stream, oldest first. */
  let sealed: { generation: number; chunk: string }[] = [];
  /** The chunk of parts (from, to], framed once however many streams it goes to. */
  const chunks = new Map<string, Framed>();
  let flushing: { targets: SseConnection[]; next: number; upTo: number } | undefined;
  function seal(): void {
    if (gathering === '') return;
    sealed.push({ generation: ++generation, chunk: gathering });
    gathering = '';
  }
  /** Writes to `connection` the sealed parts it has not had, up to `upTo`. */
  function catchUp(connection: SseConnection, upTo = generation): void {
    const from = connection.presenceGeneration;
    if (from >= upTo) return;
    connection.presenceGeneration = upTo;
    const key = `${from}:${upTo}`;
    let chunk = chunks.get(key);
    if (!chunk) {
      let text = '';
      for (const part of sealed) if (part.generation > from && part.generation <= upTo) text += part.chunk;
      chunk = framed(undefined, text);
      chunks.set(key, chunk);
    }
    if (chunk.bytes > 0) connection.deliver(chunk);
  }
  function startFlush(): void {
    clearTimeout(batchTimer);
    batchTimer = undefined;
    seal();
    unflushedBytes = 0;
    if (sealed.length === 0) return;
    const f = { targets: [...all], next: 0, upTo: generation };
    flushing = f;
    flushSlice(f);
  }
  function flushSlice(f: NonNullable<typeof flushing>): void {
    if (flushing !== f) return; // a later flush took over, up to more
    const end = Math.min(f.next + FLUSH_SLICE, f.targets.length);
    for (let i = f.next; i < end; i++) catchUp(f.targets[i], f.upTo);
    f.next = end;
    if (end < f.targets.length) {
      setImmediate(() => flushSlice(f));
      return;
    }
    flushing = undefined;
    // every stream has had these now (streams opened since start after them)
    sealed = sealed.filter((part) => part.generation > f.upTo);
    chunks.clear();
  }

  const onSlow = (connection: SseConnection) => {
    log.warn(
      { username: connection.owner.username, bufferBytes: limits.bufferBytes },
      'stream cut: client reads too slowly',
    );
  };

  function release(username: string): void {
    const n = (claimed.get(username) ?? 1) - 1;
    if (n > 0) claimed.set(username, n);
    else claimed.delete(username);
  }

  function remove(connection: SseConnection): void {
    all.delete(connection);
    slotOf.get(connection)?.delete(connection);
    slotOf.delete(connection);
    const set = byUser.get(connection.owner.username);
    set?.delete(connection);
    if (set?.size === 0) byUser.delete(connection.owner.username);
  }

  function endSession(username: string, sessionId: string): void {
    for (const connection of byUser.get(username) ?? []) {
      if (connection.owner.sessionId === sessionId) connection.close();
    }
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
    /**
     * Checks the user's rate of opens and their cap, and takes a slot at once (before any await)
     * when both allow: {@link open} takes the claim over, or the caller releases it.
     */
    claim(username: string): ClaimResult {
      const wait = opens.blockedFor(username);
      if (wait > 0) return { ok: false, reason: 'rate-limited', retryAfterSeconds: wait };
      const held = claimed.get(username) ?? 0;
      if (held >= maxStreamsPerUser) return { ok: false, reason: 'too-many-streams' };
      opens.hit(username);
      claimed.set(username, held + 1);
      let released = false;
      return {
        ok: true,
        claim: {
          release() {
            if (released) return;
            released = true;
            release(username);
          },
        },
      };
    },

    /**
     * Takes over the response: headers out at once, replay after Last-Event-ID, then live events.
     * The stream ends when the token expires, when its session ends, or when it is revoked
     * already (a logout that raced this open).
     */
    async open(
      req: IncomingMessage,
      res: ServerResponse,
      owner: StreamOwner,
      claim: StreamClaim,
      lastEventId: string | undefined,
      onClose: () => void,
    ): Promise<void> {
      const connection = new SseConnection(owner, res, limits, onSlow);
      connection.presenceGeneration = generation;
      const expiry = setTimeout(
        () => connection.close(),
        Math.max(0, Math.min(owner.expiresAt - Date.now(), MAX_TIMER_MS)),
      );
      expiry.unref();
      res.on('close', () => {
        clearTimeout(expiry);
        connection.closed = true;
        remove(connection);
        claim.release();
        onClose();
      });
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.flushHeaders();
      req.socket.setNoDelay(true);
      all.add(connection);
      const slot = slots[opened++ % HEARTBEAT_SLOTS];
      slot.add(connection);
      slotOf.set(connection, slot);
      const set = byUser.get(owner.username) ?? new Set<SseConnection>();
      set.add(connection);
      byUser.set(owner.username, set);
      connection.comment('connected');
      try {
        // Registered from here on, so a logout from now on reaches this stream; one that came
        // before (while the request was authenticated) is seen here.
        if (await isRevoked(owner.sessionId)) {
          connection.close();
          return;
        }
        if (lastEventId !== undefined) await replayInto(connection, lastEventId);
      } catch (error) {
        connection.close();
        throw error;
      }
      connection.goLive();
    },

    deliver(message: BusMessage): void {
      if (message.kind === 'close-session') {
        endSession(message.username, message.sessionId);
        return;
      }
      if (message.to === 'everyone' && message.id === undefined) {
        const { chunk, bytes } = frame(message);
        gathering += chunk;
        unflushedBytes += bytes;
        // A window's parts stay well within a stream's buffer, however much changes at once: at a
        // quarter of it, they go out after this turn (when the sockets can take them).
        if (unflushedBytes >= limits.bufferBytes / 4) {
          flushSoon ??= setImmediate(() => {
            flushSoon = undefined;
            startFlush();
          });
          return;
        }
        const { min, max } = PRESENCE_WINDOW_MS;
        batchTimer ??= setTimeout(startFlush, Math.min(max, Math.max(min, all.size / STREAMS_PER_WINDOW_MS)));
        return;
      }
      // What was gathered goes out before this, as it came, to this event's recipients.
      seal();
      const event = frame(message);
      const send = (connection: SseConnection) => {
        catchUp(connection);
        connection.deliver(event);
      };
      if (message.to === 'everyone') {
        for (const connection of all) send(connection);
        return;
      }
      for (const username of message.to) {
        for (const connection of byUser.get(username) ?? []) send(connection);
      }
    },

    /**
     * Reads again whether each session holding a stream here was revoked, and ends the streams of
     * those that were: after a bus outage, during which the end of a session may have been lost.
     */
    async recheckSessions(): Promise<void> {
      const sessions = new Map<string, string>();
      for (const connection of all) sessions.set(connection.owner.sessionId, connection.owner.username);
      for (const [sessionId, username] of sessions) {
        if (await isRevoked(sessionId)) endSession(username, sessionId);
      }
    },

    get size(): number {
      return all.size;
    },

    /** Streams this user holds (or is opening) on this instance. */
    count(username: string): number {
      return claimed.get(username) ?? 0;
    },

    /** Bytes this user's streams hold in memory on this instance (queued to the socket, or pending). */
    queuedBytes(username: string): number {
      let sum = 0;
      for (const connection of byUser.get(username) ?? []) sum += connection.queuedBytes;
      return sum;
    },

    /** Ends every stream (shutdown); clients reconnect with Last-Event-ID. */
    closeAll(): void {
      clearInterval(heartbeat);
      clearTimeout(batchTimer);
      if (flushSoon) clearImmediate(flushSoon);
      flushing = undefined;
      sealed = [];
      chunks.clear();
      for (const connection of [...all]) connection.close(1000);
    },
  };
}

export type Hub = ReturnType<typeof createHub>;
