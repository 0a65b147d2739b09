import { Errors } from '../errors.js';
import type { ChatCursor } from '../store/chat-types.js';

/**
 * Where a GET /chats listing is: a pass over the caller's chats (all of them, or those active
 * since event `since`), the last chat it gave, and `bound`, the latest event id when the pass
 * began. A chat active during a pass may move above where the pass has got to: the next pass
 * lists the chats active since `bound` again, so none is ever skipped.
 */
export interface ListingCursor extends ChatCursor {
  bound: number;
}

/** Opaque to clients. */
export function encodeCursor(c: ListingCursor): string {
  return Buffer.from(JSON.stringify([c.activeAt ?? null, c.id ?? null, c.since ?? null, c.bound])).toString(
    'base64url',
  );
}

const eventId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CURSOR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const cursorTime = (v: unknown): v is string =>
  typeof v === 'string' &&
  CURSOR_TIME.test(v) &&
  !Number.isNaN(Date.parse(v)) &&
  new Date(v).toISOString() === v;
const cursorId = (v: unknown): v is string => typeof v === 'string' && CURSOR_ID.test(v);

/**
 * Exactly what {@link encodeCursor} makes (an ISO time to the millisecond and a chat id, or
 * neither; event ids), or 400. The previous release's `[time, id]` is taken as a first pass
 * bounded now (`bound` undefined).
 */
export function decodeCursor(text: string): Omit<ListingCursor, 'bound'> & { bound?: number } {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && cursorTime(value[0]) && cursorId(value[1]))
      return { activeAt: value[0], id: value[1] };
    if (
      Array.isArray(value) &&
      value.length === 4 &&
      ((cursorTime(value[0]) && cursorId(value[1])) || (value[0] === null && value[1] === null)) &&
      (value[2] === null || (eventId(value[2]) && value[2] <= value[3])) &&
      eventId(value[3])
    )
      return {
        activeAt: value[0] ?? undefined,
        id: value[1] ?? undefined,
        since: value[2] ?? undefined,
        bound: value[3],
      };
  } catch {
    // reported below
  }
  throw new Errors.INVALID_QUERY('cursor is not one this server gave out');
}
