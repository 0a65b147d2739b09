import { groupCommit } from '../group-commit.js';
import {
  MESSAGE_OVERHEAD_BYTES,
  type MessageRecord,
  type MessageStore,
  type NewMessage,
  type StoredEvent,
} from '../message-types.js';
import { eventData, JOIN_MESSAGE, JOINED_MESSAGE, toEvent, toMessage } from '../rows.js';
import { APPEND_BATCH, appended } from './append.js';
import { PoolQueries } from './pool.js';

/** Event ids a replay page looks through at first (doubling while it finds none for the user). */
const REPLAY_WINDOW = 4096;

/** PostgreSQL's messages and events: posting (group commit, append.ts), history, replay, pruning. */
export class PostgresMessages extends PoolQueries implements MessageStore {
  async appendMessage(input: NewMessage, eventData: (seq: number) => string) {
    return this.append({ input, eventData });
  }

  private readonly append = groupCommit(
    async (batch: { input: NewMessage; eventData: (seq: number) => string }[]) => {
      const column = <T>(pick: (input: NewMessage) => T) => batch.map((b) => pick(b.input));
      const rows = await this.rows(
        `SELECT * FROM securechat_append_messages_v5($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
           $12, $13, $14, $15)`,
        [
          column((i) => i.chatId),
          column((i) => i.sender),
          column((i) => i.message.id),
          column((i) => i.message.epoch),
          column((i) => i.message.sentAt),
          column((i) => i.message.iv),
          column((i) => i.message.ciphertext),
          column((i) => i.message.tag),
          column((i) => i.message.signatureAlgorithm),
          column((i) => i.message.signature),
          column((i) => i.receivedAt),
          column((i) => i.message.device ?? null),
          column((i) => i.message.counter ?? null),
          column((i) => i.message.prev?.seq ?? null),
          column((i) => i.message.prev?.hash ?? null),
        ],
      );
      return batch.map(({ input, eventData }, i) => appended(input, eventData, rows[i]));
    },
    APPEND_BATCH,
  );

  async listMessages(
    chatId: string,
    after: number,
    limit: number,
    minEpoch: number,
    maxBytes: number,
  ): Promise<MessageRecord[]> {
    // The database counts the bytes (as messageBytes does) and sends only what fits, plus the
    // first row whatever its size.
    const rows = await this.rows(
      `SELECT * FROM (
         SELECT m.*, row_number() OVER (ORDER BY m.seq) AS n,
           sum($5 + length(m.ciphertext) + length(m.signature)) OVER (ORDER BY m.seq) AS running
         FROM (SELECT * FROM messages WHERE chat_id = $1 AND seq > $2 AND epoch >= $3 ORDER BY seq LIMIT $4) m
       ) page WHERE running <= $6 OR n = 1 ORDER BY seq`,
      [chatId, after, minEpoch, limit, MESSAGE_OVERHEAD_BYTES, maxBytes],
    );
    return rows.map((r) => toMessage(r));
  }

  async eventsAfter(username: string, afterId: number, limit: number, maxBytes: number) {
    // A window of ids at a time, so a page never sorts more than a window's events; an empty
    // window doubles the next. The database counts the bytes (a message's as history does) and
    // sends only what fits, plus the first row whatever its size.
    const { latest } = await this.eventBounds();
    for (let from = afterId, width = REPLAY_WINDOW; from < latest; from += width, width *= 2) {
      const to = Math.min(latest, from + width);
      const rows = await this.rows(
        `SELECT * FROM (
           SELECT e.id, e.type, e.data, e.chat_id, ${JOINED_MESSAGE},
             sum(CASE WHEN m.seq IS NULL THEN length(e.data)
                      ELSE $6 + length(m.ciphertext) + length(m.signature) END) OVER (ORDER BY e.id) AS running,
             row_number() OVER (ORDER BY e.id) AS n
           FROM (
             SELECT e.id FROM memberships s JOIN events e ON e.chat_id = s.chat_id AND e.to_members
               AND e.id > GREATEST(s.since_id, $2) AND e.id <= LEAST(COALESCE(s.until_id, $3), $3)
             WHERE s.username = $1
             UNION
             SELECT event_id FROM event_recipients WHERE username = $1 AND event_id > $2 AND event_id <= $3
             ORDER BY 1 LIMIT $4
           ) x JOIN events e ON e.id = x.id ${JOIN_MESSAGE}
         ) page WHERE running <= $5 OR n = 1 ORDER BY id`,
        [username, from, to, limit, maxBytes, MESSAGE_OVERHEAD_BYTES],
      );
      if (rows.length > 0) return rows.map((r) => toEvent(r, username));
    }
    return [];
  }

  async eventsBetween(fromId: number, toId: number): Promise<StoredEvent[]> {
    const rows = await this.rows(
      `SELECT e.id, e.type, e.data, e.chat_id, ${JOINED_MESSAGE},
         ARRAY(SELECT r.username FROM event_recipients r WHERE r.event_id = e.id
               UNION ALL
               SELECT s.username FROM memberships s WHERE e.to_members AND s.chat_id = e.chat_id
                 AND s.since_id < e.id AND (s.until_id IS NULL OR s.until_id >= e.id)) AS recipients
       FROM events e ${JOIN_MESSAGE} WHERE e.id BETWEEN $1 AND $2 ORDER BY e.id`,
      [fromId, toId],
    );
    return rows.map((r) => ({
      id: r.id as number,
      type: r.type as string,
      data: eventData(r),
      recipients: r.recipients as string[],
    }));
  }

  async eventBounds() {
    const [row] = await this.rows(
      `SELECT (SELECT value FROM counters WHERE name = 'event_id') AS latest,
              (SELECT value FROM meta WHERE key = 'events_pruned_through') AS pruned`,
    );
    return { prunedThrough: Number(row.pruned), latest: row.latest as number };
  }

  async prune(before: string, now: number, batch: number): Promise<number> {
    return this.transaction(async (client) => {
      await client.query('DELETE FROM revoked_tokens WHERE expires_at < $1', [now]);
      // the oldest events first, a batch at a time (ids grow with time)
      const [row] = await this.rows(
        'SELECT max(id) AS id FROM (SELECT id FROM events WHERE created_at < $1 ORDER BY id LIMIT $2) b',
        [before, batch],
        client,
      );
      const last = row.id as number | null;
      if (last === null) return 0;
      await client.query('DELETE FROM event_recipients WHERE event_id <= $1', [last]);
      // a span that ended there can match no event left
      await client.query('DELETE FROM memberships WHERE until_id <= $1', [last]);
      const { rowCount } = await client.query('DELETE FROM events WHERE id <= $1', [last]);
      // Two instances may prune at once: the mark only moves forward.
      await client.query(
        "UPDATE meta SET value = GREATEST(value::bigint, $1)::text WHERE key = 'events_pruned_through'",
        [last],
      );
      return rowCount ?? 0;
    });
  }
}
