import type Database from 'better-sqlite3';
import { blocksPosting } from '../chat-types.js';
import { groupCommit, type Settled } from '../group-commit.js';
import {
  type AppendedMessage,
  AppendRefusedError,
  type MessageRecord,
  type MessageStore,
  messageBytes,
  type NewMessage,
  type StoredEvent,
} from '../message-types.js';
import { eventData, messageValues, type Row, takeWithin, toEvent, toMessage, toPending } from '../rows.js';
import type { ChatRecipients } from './recipients.js';
import type { Statements } from './statements.js';
import { latestEventId } from './writes.js';

/** Posts stored in one transaction at most. */
const APPEND_BATCH = 256;

/** Event ids a replay page looks through at first (doubling while it finds none for the user). */
export const REPLAY_WINDOW = 4096;

/** SQLite's messages and events: posting (group commit), history, replay, pruning. */
export class SqliteMessages implements MessageStore {
  /** One post in a savepoint of the batch's transaction, and the batch's transaction: made once. */
  private readonly appendInSavepoint: (
    input: NewMessage,
    eventData: (seq: number) => string,
  ) => AppendedMessage;
  private readonly appendBatch: (
    batch: { input: NewMessage; eventData: (seq: number) => string }[],
  ) => Settled<AppendedMessage>[];

  constructor(
    private readonly db: Database.Database,
    private readonly q: Statements,
    private readonly recipients: ChatRecipients,
  ) {
    this.appendInSavepoint = db.transaction((input: NewMessage, eventData: (seq: number) => string) =>
      this.appendOne(input, eventData),
    );
    this.appendBatch = db.transaction((batch: { input: NewMessage; eventData: (seq: number) => string }[]) =>
      batch.map(({ input, eventData }): Settled<AppendedMessage> => {
        try {
          return { ok: true, value: this.appendInSavepoint(input, eventData) };
        } catch (error) {
          return { ok: false, error };
        }
      }),
    );
  }

  async appendMessage(input: NewMessage, eventData: (seq: number) => string) {
    return this.append({ input, eventData });
  }

  /** Posts that arrive together are stored in one transaction (each in its own savepoint). */
  private readonly append = groupCommit(
    async (batch: { input: NewMessage; eventData: (seq: number) => string }[]) => this.appendBatch(batch),
    APPEND_BATCH,
  );

  /**
   * One post, in a savepoint of the batch's transaction: a failed check leaves nothing behind. The
   * id's unique key is the duplicate check, as on PostgreSQL: one lookup fewer, and no second check
   * whose absence would surface as the database's own error.
   */
  private appendOne(input: NewMessage, eventData: (seq: number) => string): AppendedMessage {
    const { chatId, sender, message: m } = input;
    const chat = this.q.chatEpoch.get(chatId) as Row | undefined;
    const member = chat && (this.q.member.get(chatId, sender) as Row | undefined);
    if (!chat || !member) throw new AppendRefusedError('chat-not-found');
    if (member.state !== 'joined') throw new AppendRefusedError('not-joined');
    if (blocksPosting(toPending(chat.pending))) throw new AppendRefusedError('rekey-pending');
    if (chat.epoch !== m.epoch) throw new AppendRefusedError('stale-epoch', chat.epoch as number);
    const seq = chat.next_seq as number;
    if (m.prev && m.prev.seq >= seq) throw new AppendRefusedError('invalid-prev');
    insertMessage(() => this.q.insertMessage.run(...messageValues(input, seq)));
    this.q.bumpSeq.run(input.receivedAt, chatId);
    const recipients = this.recipients.of(chatId) as string[];
    // stored once, for the chat's members; its data is made from the message when read
    const id = Number(
      this.q.insertEvent.run('message', '', input.receivedAt, chatId, 1, seq).lastInsertRowid,
    );
    const event = { id, type: 'message', data: eventData(seq), recipients, chatId, toMembers: true };
    return { seq, event, epochMessages: (chat.epoch_messages as number) + 1 };
  }

  async listMessages(
    chatId: string,
    after: number,
    limit: number,
    minEpoch: number,
    maxBytes: number,
  ): Promise<MessageRecord[]> {
    const rows = this.q.listMessages.iterate(chatId, after, minEpoch, limit) as IterableIterator<Row>;
    return takeWithin(rows, maxBytes, (r) => {
      const m = toMessage(r);
      return [m, messageBytes(m)];
    });
  }

  async eventsAfter(username: string, afterId: number, limit: number, maxBytes: number) {
    // A window of ids at a time, so a page never sorts more than a window's events; an empty
    // window doubles the next.
    const latest = latestEventId(this.q);
    for (let from = afterId, width = REPLAY_WINDOW; from < latest; from += width, width *= 2) {
      const to = Math.min(latest, from + width);
      const rows = this.q.eventsAfter.iterate({ username, after: from, to, limit }) as IterableIterator<Row>;
      const page = takeWithin(rows, maxBytes, (r): [StoredEvent, number] => {
        const event = toEvent(r, username);
        return [event, event.data.length];
      });
      if (page.length > 0) return page;
    }
    return [];
  }

  async eventsBetween(fromId: number, toId: number): Promise<StoredEvent[]> {
    return (this.q.eventsBetween.all(fromId, toId) as Row[]).map((r) => ({
      id: r.id as number,
      type: r.type as string,
      data: eventData(r),
      recipients: JSON.parse(r.recipients as string),
    }));
  }

  async eventBounds() {
    const prunedThrough = Number((this.q.prunedThrough.get() as Row).value);
    return { prunedThrough, latest: latestEventId(this.q) };
  }

  async prune(before: string, now: number, batch: number): Promise<number> {
    return this.db.transaction(() => {
      this.q.pruneRevoked.run(now);
      const last = (this.q.lastEventBefore.get(before, batch) as Row).id as number | null;
      if (last === null) return 0;
      this.q.pruneRecipients.run(last);
      this.q.pruneSpans.run(last);
      const { changes } = this.q.pruneEvents.run(last);
      this.q.setPrunedThrough.run(String(last));
      return changes;
    })();
  }
}

/** The message's insert, its id's unique key answered as the store's refusal (never a raw 500). */
function insertMessage(insert: () => void): void {
  try {
    insert();
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' && message?.includes('messages.id_lower'))
      throw new AppendRefusedError('duplicate-message');
    throw error;
  }
}
