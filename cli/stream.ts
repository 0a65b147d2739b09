import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { Api } from './api.js';
import { ApiError } from './errors.js';

export interface FeedEvent {
  id?: string;
  type: string;
  // biome-ignore lint/suspicious/noExplicitAny: event data of the documented shapes
  data: any;
}

export interface FeedHandlers {
  onEvent: (event: FeedEvent) => Promise<void> | void;
  onStatus?: (status: 'connected' | 'reconnecting', detail?: string) => void;
}

/** The server pings every 15 s at most; three silent intervals mean the connection is dead. */
const SILENCE_MS = 45_000;
const MAX_BACKOFF_MS = 10_000;
/**
 * The largest event the client holds while waiting for its end: twice the server's 1 MiB body
 * limit, in characters. A stream that sends more without ending an event is cut and resumed.
 */
export const MAX_EVENT_CHARS = 2 * 1024 * 1024;

/**
 * GET /events, kept open: reconnects with exponential backoff and Last-Event-ID so nothing is lost,
 * and hands events over one at a time, in order. Ends on abort or when the token is refused.
 */
export async function follow(
  api: Api,
  handlers: FeedHandlers,
  signal: AbortSignal,
  lastEventId?: string,
): Promise<void> {
  let backoff = 250;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = {
        authorization: `Bearer ${api.token}`,
        accept: 'text/event-stream',
      };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const res = await request(`${api.server}/events`, {
        headers,
        signal,
        bodyTimeout: SILENCE_MS,
        dispatcher: api.dispatcher,
      });
      if (res.statusCode !== 200) {
        const problem = (await res.body.json().catch(() => ({}))) as { code?: string; detail?: string };
        if (res.statusCode === 401)
          throw new ApiError(401, problem.code ?? 'UNAUTHENTICATED', problem.detail ?? 'not logged in');
        throw new Error(`the event stream answered ${res.statusCode}`);
      }
      handlers.onStatus?.('connected');
      backoff = 250;
      let buffer = '';
      // A character split between two chunks is joined, not turned into two replacement characters.
      const decoder = new StringDecoder('utf8');
      for await (const chunk of res.body) {
        buffer += decoder.write(chunk as Buffer);
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const event = parse(block);
          if (!event) continue;
          if (event.id !== undefined) lastEventId = event.id;
          await handlers.onEvent(event);
        }
        if (buffer.length > MAX_EVENT_CHARS) {
          res.body.destroy();
          throw new Error(`the server sent an event longer than ${MAX_EVENT_CHARS} characters`);
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError) throw error;
      handlers.onStatus?.(
        'reconnecting',
        `${(error as Error).message}; retrying in ${(backoff / 1000).toFixed(1)} s`,
      );
    }
    if (signal.aborted) return;
    handlers.onStatus?.('reconnecting', `stream closed; reconnecting in ${(backoff / 1000).toFixed(1)} s`);
    await sleep(backoff + Math.random() * backoff * 0.2, undefined, { signal }).catch(() => undefined);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  }
}

/** One SSE block → an event; comments (`: ping`) and data-less blocks are nothing. */
function parse(block: string): FeedEvent | undefined {
  let type = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return undefined;
  try {
    return { id, type, data: JSON.parse(data.join('\n')) };
  } catch {
    return undefined;
  }
}
