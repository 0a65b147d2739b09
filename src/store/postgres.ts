import type pg from 'pg';
import { type AnyKeyEnvelope, isMemberEnvelope } from '../client/members.js';
import type { KeyEnvelope } from '../crypto/envelope.js';
import {
  blocksPosting,
  type ChatCursor,
  type ChatRecord,
  EpochConflictError,
  type ListedChat,
  type MemberRecord,
  type MembershipChange,
} from './chat-types.js';
import { groupCommit } from './group-commit.js';
import {
  MESSAGE_OVERHEAD_BYTES,
  type MessageRecord,
  type NewEvent,
  type NewMessage,
  type StoredEvent,
} from './message-types.js';
import { APPEND_BATCH, appended } from './postgres/append.js';
import { migrate } from './postgres/migrate.js';
import type { Client, PostgresOptions } from './postgres/pool.js';
import * as db from './postgres/pool.js';
import {
  audience,
  eventData,
  JOIN_MESSAGE,
  JOINED_MESSAGE,
  pendingText,
  toEnvelope,
  toEvent,
  toMemberEnvelope,
  toMessage,
  toPending,
  toRegistrationCode,
  toUser,
} from './rows.js';
import type { Store } from './types.js';
import {
  type CodedRegistration,
  type CodeHold,
  type RegistrationCode,
  UserExistsError,
  type UserRecord,
} from './user-types.js';

/** The queries of the PostgreSQL adapter; the pool is in postgres/pool.ts, the schema in postgres/migrate.ts. */

/** Connects to PostgreSQL, migrates, and returns the store. */
export async function openPostgresStore(options: PostgresOptions): Promise<Store> {
  return new PostgresStore(await db.openPool(options, migrate));
}

/** Event ids a replay page looks through at first (doubling while it finds none for the user). */
const REPLAY_WINDOW = 4096;

class PostgresStore implements Store {
  constructor(private readonly pool: pg.Pool) {}

  private exec(sql: string, params: unknown[] = [], client: pg.Pool | Client = this.pool) {
    return db.exec(client, sql, params);
  }

  private rows(sql: string, params: unknown[] = [], client: pg.Pool | Client = this.pool) {
    return db.rows(client, sql, params);
  }

  private transaction<T>(work: (client: Client) => Promise<T>): Promise<T> {
    return db.transaction(this.pool, work);
  }

  async ping(): Promise<void> {
    await this.exec('SELECT 1');
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  async claim(key: string, value: string): Promise<string> {
    await this.exec('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [
      key,
      value,
    ]);
    const [row] = await this.rows('SELECT value FROM meta WHERE key = $1', [key]);
    return row.value as string;
  }

  async createUser(user: UserRecord): Promise<void> {
    try {
      await this.exec(
        'INSERT INTO users (username, password_hash, keys, created_at, last_seen) VALUES ($1, $2, $3, $4, $5)',
        [user.username, user.passwordHash, JSON.stringify(user.keys), user.createdAt, user.lastSeen],
      );
    } catch (error) {
      if ((error as { code?: string }).code === db.UNIQUE_VIOLATION) {
        throw new UserExistsError(`user ${user.username} already exists`);
      }
      throw error;
    }
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const [row] = await this.rows('SELECT * FROM users WHERE username = $1', [username]);
    return row && toUser(row);
  }

  async listUsers() {
    const rows = await this.rows('SELECT username, last_seen FROM users ORDER BY username');
    return rows.map((r) => ({
      username: r.username as string,
      lastSeen: (r.last_seen as string | null) ?? null,
    }));
  }

  async setLastSeen(username: string, at: string): Promise<void> {
    await this.exec('UPDATE users SET last_seen = $1 WHERE username = $2', [at, username]);
  }

  async replacePasswordHash(username: string, previous: string, next: string): Promise<void> {
    await this.exec('UPDATE users SET password_hash = $1 WHERE username = $2 AND password_hash = $3', [
      next,
      username,
      previous,
    ]);
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    await this.exec(
      'INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING',
      [jti, expiresAt],
    );
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return (await this.rows('SELECT 1 FROM revoked_tokens WHERE jti = $1', [jti])).length > 0;
  }

  /**
   * Chats with their members, read in one statement (so in one snapshot: a concurrent change is
   * seen whole or not at all). `where` selects chat rows `c`; the rows come in `order`.
   */
  private async chatsWhere(where: string, params: unknown[], order = 'c.id'): Promise<ListedChat[]> {
    const rows = await this.rows(
      `SELECT c.id, c.epoch, c.created_by, c.created_at, COALESCE(c.active_at, c.created_at) AS active_at,
         c.key_mode, c.pending,
         COALESCE((SELECT json_agg(json_build_object('username', m.username, 'state', m.state,
             'sinceEpoch', m.since_epoch) ORDER BY m.since_epoch, m.username)
           FROM members m WHERE m.chat_id = c.id), '[]') AS members
       FROM chats c WHERE ${where} ORDER BY ${order}`,
      params,
    );
    return rows.map((row) => ({
      id: row.id as string,
      epoch: row.epoch as number,
      createdBy: row.created_by as string,
      createdAt: row.created_at as string,
      activeAt: row.active_at as string,
      members: row.members as MemberRecord[],
      keyMode: (row.key_mode as ChatRecord['keyMode']) ?? 'server',
      pending: toPending(row.pending),
    }));
  }

  private async insertEnvelopes(client: Client, all: AnyKeyEnvelope[]): Promise<void> {
    const byMembers = all.filter(isMemberEnvelope);
    if (byMembers.length > 0) {
      await client.query(
        `INSERT INTO member_envelopes (chat_id, epoch, recipient, wrapped_key, issued_at, committer, members,
           sig_alg, signature)
         SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
           $8::text[], $9::text[])`,
        [
          byMembers.map((e) => e.chatId),
          byMembers.map((e) => e.epoch),
          byMembers.map((e) => e.recipient),
          byMembers.map((e) => e.wrappedKey),
          byMembers.map((e) => e.issuedAt),
          byMembers.map((e) => e.committer),
          byMembers.map((e) => JSON.stringify(e.members)),
          byMembers.map((e) => e.signatureAlgorithm),
          byMembers.map((e) => e.signature),
        ],
      );
    }
    const envelopes = all.filter((e): e is KeyEnvelope => !isMemberEnvelope(e));
    if (envelopes.length === 0) return;
    await client.query(
      `INSERT INTO envelopes (chat_id, epoch, recipient, wrapped_key, issued_at, server_signature)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])`,
      [
        envelopes.map((e) => e.chatId),
        envelopes.map((e) => e.epoch),
        envelopes.map((e) => e.recipient),
        envelopes.map((e) => e.wrappedKey),
        envelopes.map((e) => e.issuedAt),
        envelopes.map((e) => e.serverSignature),
      ],
    );
  }

  /**
   * Takes `count` event ids from the counter row. Called last in a transaction: the row stays
   * locked until commit, so ids are handed out and committed in one order across all instances.
   */
  private async takeEventIds(client: Client, count: number): Promise<number> {
    const [row] = await this.rows(
      "UPDATE counters SET value = value + $1 WHERE name = 'event_id' RETURNING value",
      [count],
      client,
    );
    return (row.value as number) - count + 1;
  }

  /**
   * Stores events after the change to the chat's members (made in this transaction): a chat's
   * event once, for the members as they are now, plus rows for anyone else it names.
   */
  private async insertEvents(client: Client, events: NewEvent[], createdAt: string): Promise<StoredEvent[]> {
    if (events.length === 0) return [];
    // the members of each chat a chat's event concerns, read once
    const members = new Map<string, string[]>();
    for (const { chatId, toMembers } of events) {
      if (!toMembers || chatId === undefined || members.has(chatId)) continue;
      const rows = await this.rows('SELECT username FROM members WHERE chat_id = $1', [chatId], client);
      members.set(
        chatId,
        rows.map((r) => r.username as string),
      );
    }
    const audiences = events.map((event) => audience(event, () => members.get(event.chatId as string) ?? []));
    const first = await this.takeEventIds(client, events.length);
    const stored = events.map((event, i) => ({
      ...event,
      recipients: audiences[i].recipients,
      id: first + i,
    }));
    await client.query(
      `INSERT INTO events (id, type, data, created_at, chat_id, to_members)
       SELECT id, type, data, $4, chat_id, to_members
       FROM unnest($1::bigint[], $2::text[], $3::text[], $5::text[], $6::boolean[]) AS e(id, type, data, chat_id, to_members)`,
      [
        stored.map((e) => e.id),
        stored.map((e) => e.type),
        stored.map((e) => e.data),
        createdAt,
        stored.map((e) => e.chatId ?? null),
        stored.map((e) => e.toMembers === true),
      ],
    );
    const pairs = stored.flatMap((e, i) =>
      audiences[i].addressed.map((username) => [username, e.id] as const),
    );
    if (pairs.length > 0) {
      await client.query(
        'INSERT INTO event_recipients (username, event_id) SELECT * FROM unnest($1::text[], $2::bigint[])',
        [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
      );
    }
    return stored;
  }

  async createChat(chat: ChatRecord, envelopes: KeyEnvelope[], events: NewEvent[]): Promise<StoredEvent[]> {
    return this.transaction(async (client) => {
      await client.query(
        `INSERT INTO chats (id, epoch, created_by, created_at, epoch_started_at, active_at, key_mode, pending,
           additions_since) VALUES ($1, $2, $3, $4, $4, $4, $5, $6, $7)`,
        [
          chat.id,
          chat.epoch,
          chat.createdBy,
          chat.createdAt,
          chat.keyMode ?? 'server',
          pendingText(chat.pending),
          chat.pending?.additionsSince ?? null,
        ],
      );
      await this.upsertMembers(client, chat.id, chat.members);
      await this.insertEnvelopes(client, envelopes);
      const stored = await this.insertEvents(client, events, new Date().toISOString());
      await this.moveSpans(
        client,
        chat.id,
        chat.members.map((m) => m.username),
        [],
        stored,
      );
      return stored;
    });
  }

  /**
   * Starts the spans of members added, and ends those of members removed, at the first of the
   * events `stored` with the change (without events: at the latest id, the counter row locked
   * until commit, like any change that stores events).
   */
  private async moveSpans(
    client: Client,
    chatId: string,
    added: string[],
    removed: string[],
    stored: StoredEvent[],
  ): Promise<void> {
    if (added.length === 0 && removed.length === 0) return;
    const base = stored.length > 0 ? stored[0].id - 1 : (await this.takeEventIds(client, 0)) - 1;
    if (removed.length > 0) {
      await client.query(
        'UPDATE memberships SET until_id = $3 WHERE chat_id = $1 AND username = ANY($2) AND until_id IS NULL',
        [chatId, removed, base],
      );
    }
    if (added.length > 0) {
      await client.query(
        `INSERT INTO memberships (chat_id, username, since_id)
         SELECT $1, u, $3 FROM unnest($2::text[]) AS u
         WHERE NOT EXISTS (SELECT 1 FROM memberships s WHERE s.chat_id = $1 AND s.username = u AND s.until_id IS NULL)
         ON CONFLICT (chat_id, username, since_id) DO UPDATE SET until_id = NULL`,
        [chatId, added, base],
      );
    }
  }

  private async upsertMembers(client: Client, chatId: string, members: MemberRecord[]): Promise<void> {
    if (members.length === 0) return;
    await client.query(
      `INSERT INTO members (chat_id, username, state, since_epoch)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[])
       ON CONFLICT (chat_id, username) DO UPDATE SET state = excluded.state`,
      [chatId, members.map((m) => m.username), members.map((m) => m.state), members.map((m) => m.sinceEpoch)],
    );
  }

  async getChat(chatId: string): Promise<ChatRecord | undefined> {
    return (await this.chatsWhere('c.id = $1', [chatId]))[0];
  }

  async membership(chatId: string, username: string) {
    const [row] = await this.rows(
      `SELECT c.epoch, c.pending, m.state, m.since_epoch FROM chats c
       JOIN members m ON m.chat_id = c.id WHERE c.id = $1 AND m.username = $2`,
      [chatId, username],
    );
    if (!row) return undefined;
    return {
      epoch: row.epoch as number,
      rekeyPending: blocksPosting(toPending(row.pending)),
      member: { username, state: row.state as MemberRecord['state'], sinceEpoch: row.since_epoch as number },
    };
  }

  async listChats(username: string, limit: number, after?: ChatCursor): Promise<ListedChat[]> {
    return this.chatsWhere(
      `c.id IN (SELECT chat_id FROM members WHERE username = $1)
       AND ($2::text IS NULL OR (COALESCE(c.active_at, c.created_at), c.id) < ($2::text, $3::text))
       AND ($5::bigint IS NULL
            OR c.id IN (SELECT s.chat_id COLLATE "C" FROM memberships s
                 WHERE s.username = $1 AND EXISTS (SELECT 1 FROM events e WHERE e.chat_id = s.chat_id
                   AND e.to_members AND e.id > GREATEST(s.since_id, $5::bigint)
                   AND (s.until_id IS NULL OR e.id <= s.until_id)))
            OR c.id IN (SELECT e.chat_id COLLATE "C" FROM event_recipients r
                 JOIN events e ON e.id = r.event_id WHERE r.username = $1 AND r.event_id > $5::bigint))`,
      [username, after?.activeAt ?? null, after?.id ?? null, limit, after?.since ?? null],
      // a chat made by an instance of the previous release has no active_at: its creation
      'COALESCE(c.active_at, c.created_at) DESC, c.id DESC LIMIT $4',
    );
  }

  async countJoinedChats(username: string): Promise<number> {
    const [row] = await this.rows(
      "SELECT count(*) AS n FROM members WHERE username = $1 AND state = 'joined'",
      [username],
    );
    return Number(row.n);
  }

  async chatIdsOf(username: string): Promise<string[]> {
    const rows = await this.rows('SELECT chat_id FROM members WHERE username = $1', [username]);
    return rows.map((r) => r.chat_id as string);
  }

  async changeMembership(change: MembershipChange): Promise<StoredEvent[]> {
    return this.transaction(async (client) => {
      const now = new Date().toISOString();
      const { rowCount } = await client.query(
        `UPDATE chats SET epoch = $1,
           epoch_started_at = CASE WHEN $1 = $2 THEN epoch_started_at ELSE $3 END,
           epoch_messages = CASE WHEN $1 = $2 THEN epoch_messages ELSE 0 END,
           active_at = GREATEST(active_at, $3)
         WHERE id = $4 AND epoch = $2`,
        [change.epoch, change.expectedEpoch, now, change.chatId],
      );
      if (rowCount !== 1)
        throw new EpochConflictError(`chat ${change.chatId} is no longer at epoch ${change.expectedEpoch}`);
      if (change.pending) {
        const { next, expected } = change.pending;
        const set = await client.query(
          'UPDATE chats SET pending = $1, additions_since = $2 WHERE id = $3 AND pending IS NOT DISTINCT FROM $4',
          [pendingText(next), next?.additionsSince ?? null, change.chatId, pendingText(expected)],
        );
        if (set.rowCount !== 1)
          throw new EpochConflictError(`chat ${change.chatId}: its pending epoch changed meanwhile`);
      }
      if (change.remove.length > 0) {
        await client.query('DELETE FROM members WHERE chat_id = $1 AND username = ANY($2)', [
          change.chatId,
          change.remove,
        ]);
      }
      await this.upsertMembers(client, change.chatId, change.upsert);
      await this.insertEnvelopes(client, change.envelopes);
      const stored = await this.insertEvents(client, change.events, now);
      await this.moveSpans(
        client,
        change.chatId,
        change.upsert.map((m) => m.username),
        change.remove,
        stored,
      );
      return stored;
    });
  }

  async getEnvelope(chatId: string, epoch: number, recipient: string): Promise<AnyKeyEnvelope | undefined> {
    const [row] = await this.rows(
      'SELECT * FROM envelopes WHERE chat_id = $1 AND epoch = $2 AND recipient = $3',
      [chatId, epoch, recipient],
    );
    if (row) return toEnvelope(row);
    const [member] = await this.rows(
      'SELECT * FROM member_envelopes WHERE chat_id = $1 AND epoch = $2 AND recipient = $3',
      [chatId, epoch, recipient],
    );
    return member && toMemberEnvelope(member);
  }

  async chatsWithStaleAdditions(before: string, limit: number): Promise<string[]> {
    const rows = await this.rows(
      'SELECT id FROM chats WHERE additions_since < $1 ORDER BY additions_since LIMIT $2',
      [before, limit],
    );
    return rows.map((r) => r.id as string);
  }

  async appendMessage(input: NewMessage, eventData: (seq: number) => string) {
    return this.append({ input, eventData });
  }

  private readonly append = groupCommit(
    async (batch: { input: NewMessage; eventData: (seq: number) => string }[]) => {
      const column = <T>(pick: (input: NewMessage) => T) => batch.map((b) => pick(b.input));
      const rows = await this.rows(
        'SELECT * FROM securechat_append_messages_v4($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
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
        ],
      );
      return batch.map(({ input, eventData }, i) => appended(input, eventData, rows[i]));
    },
    APPEND_BATCH,
  );

  async chatsDueForRotation(startedBefore: string, limit: number) {
    const rows = await this.rows(
      // a pending epoch that only adds (chat-types.ts addsOnly) does not hold the rotation back
      `SELECT id, epoch FROM chats c WHERE epoch_started_at < $1
         AND (pending IS NULL OR (pending::jsonb ->> 'reason' = 'invite' AND jsonb_array_length(pending::jsonb -> 'removed') = 0))
         AND EXISTS (SELECT 1 FROM members m WHERE m.chat_id = c.id)
       ORDER BY epoch_started_at LIMIT $2`,
      [startedBefore, limit],
    );
    return rows.map((r) => ({ chatId: r.id as string, epoch: r.epoch as number }));
  }

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

  async putRegistrationCode(code: RegistrationCode): Promise<void> {
    await this.exec(
      `INSERT INTO registration_codes (username, code_hash, created_at, expires_at, used_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO UPDATE SET code_hash = excluded.code_hash,
       created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at,
       reserved_until = NULL, reserved_by = NULL`,
      [code.username, code.codeHash, code.createdAt, code.expiresAt, code.usedAt],
    );
  }

  async reserveRegistrationCode({ username, codeHash, holder, now, until }: CodeHold): Promise<boolean> {
    // one statement: a concurrent hold waits for this row's lock, then finds the code held
    const { rowCount } = await this.exec(
      `UPDATE registration_codes SET reserved_until = $1, reserved_by = $2
       WHERE username = $3 AND code_hash = $4 AND used_at IS NULL AND expires_at > $5
         AND (reserved_until IS NULL OR reserved_until <= $5)`,
      [until, holder, username, codeHash, now],
    );
    return rowCount === 1;
  }

  async releaseRegistrationCode(username: string, holder: string): Promise<void> {
    await this.exec(
      `UPDATE registration_codes SET reserved_until = NULL, reserved_by = NULL
       WHERE username = $1 AND reserved_by = $2`,
      [username, holder],
    );
  }

  async getRegistrationCode(username: string): Promise<RegistrationCode | undefined> {
    const [row] = await this.rows('SELECT * FROM registration_codes WHERE username = $1', [username]);
    return row && toRegistrationCode(row);
  }

  async listRegistrationCodes(): Promise<RegistrationCode[]> {
    return (await this.rows('SELECT * FROM registration_codes ORDER BY username')).map(toRegistrationCode);
  }

  async deleteRegistrationCode(username: string): Promise<boolean> {
    const { rowCount } = await this.exec('DELETE FROM registration_codes WHERE username = $1', [username]);
    return (rowCount ?? 0) > 0;
  }

  async createUserWithCode(
    user: UserRecord,
    codeHash: string,
    now: string,
    holder?: string,
  ): Promise<CodedRegistration> {
    try {
      return await this.transaction(async (client): Promise<CodedRegistration> => {
        // the row lock makes a concurrent use of the same code wait, then find it used
        const used = await client.query(
          `UPDATE registration_codes SET used_at = $1, reserved_until = NULL, reserved_by = NULL
           WHERE username = $2 AND code_hash = $3 AND used_at IS NULL AND expires_at > $1
             AND (reserved_by IS NULL OR reserved_by = $4 OR reserved_until <= $1)`,
          [now, user.username, codeHash, holder ?? null],
        );
        if (used.rowCount !== 1) return 'invalid-code';
        const created = await client.query(
          `INSERT INTO users (username, password_hash, keys, created_at, last_seen)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING`,
          [user.username, user.passwordHash, JSON.stringify(user.keys), user.createdAt, user.lastSeen],
        );
        // thrown, not returned: the code's use is rolled back with it
        if (created.rowCount !== 1) throw new UserExistsError(user.username);
        return 'created';
      });
    } catch (error) {
      if (error instanceof UserExistsError) return 'username-taken';
      throw error;
    }
  }
}
