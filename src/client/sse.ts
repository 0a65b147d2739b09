import type { Api } from './api.js';
import { ApiError, ClientError } from './errors.js';

/** One block of a text/event-stream, its fields as sent. */
export interface SseBlock {
  id?: string;
  event?: string;
  data?: string;
  /** The last comment line (`: ping`) in the block, without the colon. */
  comment?: string;
}

/** An event with its data parsed as JSON. */
export interface FeedEvent {
  id?: string;
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: event data of the documented shapes
  data: any;
}

/**
 * The largest event held while waiting for its end: twice the server's 1 MiB body limit, in
 * characters. A stream that sends more without ending an event is cut (and the caller resumes).
 */
export const MAX_EVENT_CHARS = 2 * 1024 * 1024;

/** One block → its fields; lines are `field: value` (one optional space), `:` starts a comment. */
export function parseBlock(block: string): SseBlock {
  const out: SseBlock = {};
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '') continue;
    if (line.startsWith(':')) {
      out.comment = line.slice(1).trim();
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') out.event = value;
    else if (field === 'id') out.id = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length) out.data = data.join('\n');
  return out;
}

/** A block with JSON data → an event; comments, data-less blocks and bad JSON are nothing. */
export function toFeedEvent(block: SseBlock): FeedEvent | undefined {
  if (block.data === undefined) return undefined;
  try {
    return { id: block.id, type: block.event ?? 'message', data: JSON.parse(block.data) };
  } catch {
    return undefined;
  }
}

/**
 * Reads a text/event-stream body block by block, in order. A character split between two chunks
 * is joined; an event longer than `maxChars` throws (the line buffer is bounded).
 */
export async function readBlocks(
  body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  onBlock: (block: SseBlock) => Promise<void> | void,
  maxChars = MAX_EVENT_CHARS,
): Promise<void> {
  const decoder = new TextDecoder('utf-8');
  let buffer = '';
  const take = async (text: string) => {
    buffer += text.replace(/\r\n?/g, '\n');
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      await onBlock(parseBlock(block));
    }
    if (buffer.length > maxChars)
      throw new ClientError(`the server sent an event longer than ${maxChars} characters`);
  };
  const iterable =
    Symbol.asyncIterator in body
      ? (body as AsyncIterable<Uint8Array>)
      : chunksOf(body as ReadableStream<Uint8Array>);
  for await (const chunk of iterable) await take(decoder.decode(chunk, { stream: true }));
  await take(decoder.decode());
}

async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

type EventTap = (event: FeedEvent) => Promise<void> | void;
const taps = new WeakMap<Api, Set<EventTap>>();

/**
 * Runs `tap` on every event any `follow` of `api` takes, before the front end's handler: what the
 * library itself must do with an event whatever the front end does (a peer's `account.keys`).
 * A tap that throws changes nothing for the handler. Returns the undo.
 */
export function tapEvents(api: Api, tap: EventTap): () => void {
  const set = taps.get(api) ?? new Set<EventTap>();
  taps.set(api, set);
  set.add(tap);
  return () => set.delete(tap);
}

export interface FeedHandlers {
  onEvent: (event: FeedEvent) => Promise<void> | void;
  onStatus?: (status: 'connected' | 'reconnecting', detail?: string) => void;
}

export interface FollowOptions {
  /** Resume after this event id. */
  lastEventId?: string;
  /** No byte for this long means a dead connection (the server pings every 15 s at most). */
  silenceMs?: number;
  maxBackoffMs?: number;
  maxEventChars?: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * GET /events, kept open: reconnects with exponential backoff and Last-Event-ID so nothing is lost,
 * and hands events over one at a time, in order. Ends on abort, or throws when the token is refused.
 */
export async function follow(
  api: Api,
  handlers: FeedHandlers,
  signal: AbortSignal,
  options: FollowOptions = {},
) {
  const silenceMs = options.silenceMs ?? 45_000;
  const maxBackoff = options.maxBackoffMs ?? 10_000;
  let lastEventId = options.lastEventId;
  let backoff = 250;
  while (!signal.aborted) {
    const cut = new AbortController();
    const stop = () => cut.abort();
    signal.addEventListener('abort', stop, { once: true });
    let silence: ReturnType<typeof setTimeout> | undefined;
    const quiet = () => {
      clearTimeout(silence);
      silence = setTimeout(
        () => cut.abort(new ClientError(`the server was silent for ${silenceMs / 1000} s`)),
        silenceMs,
      );
    };
    try {
      quiet();
      const res = await api.streamEvents(cut.signal, lastEventId);
      handlers.onStatus?.('connected');
      backoff = 250;
      const body = res.body;
      if (!body) throw new ClientError('the event stream has no body');
      await readBlocks(
        (async function* () {
          for await (const chunk of chunksOf(body)) {
            quiet();
            yield chunk;
          }
        })(),
        async (block) => {
          const event = toFeedEvent(block);
          if (!event) return;
          if (event.id !== undefined) lastEventId = event.id;
          for (const tap of taps.get(api) ?? []) await Promise.resolve(tap(event)).catch(() => undefined);
          await handlers.onEvent(event);
        },
        options.maxEventChars,
      );
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status === 401) throw error;
      const reason =
        cut.signal.aborted && cut.signal.reason instanceof Error ? cut.signal.reason : (error as Error);
      handlers.onStatus?.('reconnecting', `${reason.message}; retrying in ${(backoff / 1000).toFixed(1)} s`);
    } finally {
      clearTimeout(silence);
      signal.removeEventListener('abort', stop);
      cut.abort();
    }
    if (signal.aborted) return;
    handlers.onStatus?.('reconnecting', `stream closed; reconnecting in ${(backoff / 1000).toFixed(1)} s`);
    await sleep(backoff + Math.random() * backoff * 0.2, signal);
    backoff = Math.min(backoff * 2, maxBackoff);
  }
}
