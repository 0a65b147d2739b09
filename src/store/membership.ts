import type { AnyKeyEnvelope } from '../client/members.js';
import {
  type ChatRecord,
  EpochConflictError,
  type MemberRecord,
  type MembershipChange,
} from './chat-types.js';
import type { NewEvent, StoredEvent } from './message-types.js';

/**
 * How a chat's members change, written once for both engines: what is checked (the epoch, then
 * the pending epoch, each still as the change expects), in which order the rows are written, and
 * where the members' event spans move. Each engine supplies the writes ({@link MembershipWrites}:
 * its SQL, inside its own transaction).
 *
 * SQLite's transactions are synchronous (better-sqlite3 runs no `await` inside one) while
 * PostgreSQL's are not, so the steps are a generator that yields each write's answer (as
 * Babel's `gensync` does): {@link runNow} drives them at once, {@link runAwaiting} awaits each.
 * Read `yield* step(x)` as `await x`.
 */

type Maybe<T> = T | Promise<T>;

/** The writes of one engine, made on the transaction the change runs in. */
export interface MembershipWrites {
  insertChat(chat: ChatRecord): Maybe<void>;
  /** Sets the chat's epoch (and its activity time to `now`) if it is still `expected`; whether it was. */
  setEpoch(chatId: string, epoch: number, expected: number, now: string): Maybe<boolean>;
  /** Replaces the pending epoch if it is still `expected`; whether it was. */
  setPending(chatId: string, pending: NonNullable<MembershipChange['pending']>): Maybe<boolean>;
  removeMembers(chatId: string, usernames: string[]): Maybe<void>;
  upsertMembers(chatId: string, members: MemberRecord[]): Maybe<void>;
  insertEnvelopes(envelopes: AnyKeyEnvelope[]): Maybe<void>;
  /** Stores the events for the members as the change leaves them (rows.ts `audience`). */
  insertEvents(events: NewEvent[], now: string): Maybe<StoredEvent[]>;
  /** The latest event id issued (PostgreSQL locks its counter row until commit). */
  latestEventId(): Maybe<number>;
  /** Opens the spans of `added` and closes those of `removed` after event `base`. */
  moveSpans(chatId: string, added: string[], removed: string[], base: number): Maybe<void>;
}

/** The steps of one change: each yields a write (its answer, or the promise of it) and is given the answer back. */
export type Steps<T> = Generator<unknown, T, unknown>;

function* step<T>(value: Maybe<T>): Steps<T> {
  return (yield value) as T;
}

/** A new chat: its row, its first members, envelopes and events, and their spans. */
export function* createChatSteps(
  w: MembershipWrites,
  chat: ChatRecord,
  envelopes: AnyKeyEnvelope[],
  events: NewEvent[],
): Steps<StoredEvent[]> {
  yield* step(w.insertChat(chat));
  yield* step(w.upsertMembers(chat.id, chat.members));
  yield* step(w.insertEnvelopes(envelopes));
  const stored = yield* step(w.insertEvents(events, new Date().toISOString()));
  yield* moveSpans(
    w,
    chat.id,
    chat.members.map((m) => m.username),
    [],
    stored,
  );
  return stored;
}

/** A change of members (`ChatStore.changeMembership`): nothing is written unless both checks pass. */
export function* changeMembershipSteps(w: MembershipWrites, change: MembershipChange): Steps<StoredEvent[]> {
  const now = new Date().toISOString();
  if (!(yield* step(w.setEpoch(change.chatId, change.epoch, change.expectedEpoch, now))))
    throw new EpochConflictError(`chat ${change.chatId} is no longer at epoch ${change.expectedEpoch}`);
  if (change.pending && !(yield* step(w.setPending(change.chatId, change.pending))))
    throw new EpochConflictError(`chat ${change.chatId}: its pending epoch changed meanwhile`);
  yield* step(w.removeMembers(change.chatId, change.remove));
  yield* step(w.upsertMembers(change.chatId, change.upsert));
  yield* step(w.insertEnvelopes(change.envelopes));
  const stored = yield* step(w.insertEvents(change.events, now));
  yield* moveSpans(
    w,
    change.chatId,
    change.upsert.map((m) => m.username),
    change.remove,
    stored,
  );
  return stored;
}

/**
 * Starts the spans of members added, and ends those of members removed, at the first of the
 * events `stored` with the change: the chat's events from there on go to the members after it
 * (without events: at the latest id).
 */
function* moveSpans(
  w: MembershipWrites,
  chatId: string,
  added: string[],
  removed: string[],
  stored: StoredEvent[],
): Steps<void> {
  if (added.length === 0 && removed.length === 0) return;
  const base = stored.length > 0 ? stored[0].id - 1 : yield* step(w.latestEventId());
  yield* step(w.moveSpans(chatId, added, removed, base));
}

/** Runs the steps with writes that answer at once (SQLite, inside `db.transaction`). */
export function runNow<T>(steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) {
    if (next.value instanceof Promise) throw new Error('a synchronous write answered with a promise');
    next = steps.next(next.value);
  }
  return next.value;
}

/** Runs the steps with writes that may answer later (PostgreSQL, inside its transaction). */
export async function runAwaiting<T>(steps: Steps<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    let answer: unknown;
    try {
      answer = await next.value;
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(answer);
  }
  return next.value;
}
