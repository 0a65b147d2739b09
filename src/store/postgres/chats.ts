import type { AnyKeyEnvelope } from '../../client/members.js';
import type { KeyEnvelope } from '../../crypto/envelope.js';
import type {
  ChatCursor,
  ChatRecord,
  ChatStore,
  ListedChat,
  MemberRecord,
  MembershipChange,
} from '../chat-types.js';
import { changeMembershipSteps, createChatSteps, runAwaiting } from '../membership.js';
import type { NewEvent, StoredEvent } from '../message-types.js';
import { toEnvelope, toMemberEnvelope, toPending } from '../rows.js';
import { batchedLookups } from './lookups.js';
import { PoolQueries } from './pool.js';
import { postgresWrites } from './writes.js';

/** PostgreSQL's chats and memberships; a change of members is membership.ts's, run on writes.ts. */
export class PostgresChats extends PoolQueries implements ChatStore {
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

  async createChat(chat: ChatRecord, envelopes: KeyEnvelope[], events: NewEvent[]): Promise<StoredEvent[]> {
    return this.transaction((client) =>
      runAwaiting(createChatSteps(postgresWrites(client), chat, envelopes, events)),
    );
  }

  async getChat(chatId: string): Promise<ChatRecord | undefined> {
    return (await this.chatsWhere('c.id = $1', [chatId]))[0];
  }

  /** Batched with the lookups asked meanwhile (lookups.ts): one statement, sent after this call. */
  private readonly lookups = batchedLookups(this.pool);

  async membership(chatId: string, username: string) {
    return this.lookups.membership(chatId, username);
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
    return this.transaction((client) => runAwaiting(changeMembershipSteps(postgresWrites(client), change)));
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

  async countPendingEpochs(): Promise<number> {
    const rows = await this.rows('SELECT COUNT(*)::int AS n FROM chats WHERE pending IS NOT NULL', []);
    return rows[0].n as number;
  }

  async chatsWithStaleAdditions(before: string, limit: number): Promise<string[]> {
    const rows = await this.rows(
      'SELECT id FROM chats WHERE additions_since < $1 ORDER BY additions_since LIMIT $2',
      [before, limit],
    );
    return rows.map((r) => r.id as string);
  }

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
}
