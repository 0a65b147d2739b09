import type Database from 'better-sqlite3';
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
import { groupCommit, type Settled } from './group-commit.js';
import {
  type AppendedMessage,
  AppendRefusedError,
  type MessageRecord,
  messageBytes,
  type NewEvent,
  type NewMessage,
  type StoredEvent,
} from './message-types.js';
import {
  audience,
  eventData,
  messageValues,
  pendingText,
  type Row,
  takeWithin,
  toEnvelope,
  toEvent,
  toMemberEnvelope,
  toMessage,
  toPending,
  toRegistrationCode,
  toUser,
} from './rows.js';
import { openSqliteDatabase } from './sqlite/open.js';
import { prepareStatements, type Statements } from './sqlite/statements.js';
import type { Store } from './types.js';
import {
  type CodedRegistration,
  type CodeHold,
  type RegistrationCode,
  UserExistsError,
  type UserRecord,
} from './user-types.js';

/** Opens (creating and migrating) `securechat.db` in `dataDir`; sqlite/open.ts says with which settings. */
export function openSqliteStore(dataDir: string, synchronous: 'normal' | 'full' = 'normal'): Store {
  return new SqliteStore(openSqliteDatabase(dataDir, synchronous));
}

/** Posts stored in one transaction at most. */
const APPEND_BATCH = 256;

/** Event ids a replay page looks through at first (doubling while it finds none for the user). */
export const REPLAY_WINDOW = 4096;

class SqliteStore implements Store {
  private readonly q: Statements;

  constructor(private readonly db: Database.Database) {
    this.q = prepareStatements(db);
  }

  async ping(): Promise<void> {
    this.q.ping.get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  async claim(key: string, value: string): Promise<string> {
    this.q.claim.run(key, value);
    return (this.q.meta.get(key) as Row).value as string;
  }

  async createUser(user: UserRecord): Promise<void> {
    try {
      this.insertUser(user);
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new UserExistsError(`user ${user.username} already exists`);
      }
      throw error;
    }
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const row = this.q.getUser.get(username) as Row | undefined;
    return row && toUser(row);
  }

  async listUsers() {
    return (this.q.listUsers.all() as Row[]).map((r) => ({
      username: r.username as string,
      lastSeen: (r.last_seen as string | null) ?? null,
    }));
  }

  async setLastSeen(username: string, at: string): Promise<void> {
    this.q.setLastSeen.run(at, username);
  }

  async replacePasswordHash(username: string, previous: string, next: string): Promise<void> {
    this.q.replaceHash.run(next, username, previous);
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    this.q.revoke.run(jti, expiresAt);
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return this.q.isRevoked.get(jti) !== undefined;
  }

  private chatFromRow(row: Row): ChatRecord {
    const members = (this.q.members.all(row.id) as Row[]).map(
      (m): MemberRecord => ({
        username: m.username as string,
        state: m.state as MemberRecord['state'],
        sinceEpoch: m.since_epoch as number,
      }),
    );
    return {
      id: row.id as string,
      epoch: row.epoch as number,
      createdBy: row.created_by as string,
      createdAt: row.created_at as string,
      members,
      keyMode: (row.key_mode as ChatRecord['keyMode']) ?? 'server',
      pending: toPending(row.pending),
    };
  }

  private insertEnvelopes(envelopes: AnyKeyEnvelope[]): void {
    for (const e of envelopes) {
      if (isMemberEnvelope(e))
        this.q.insertMemberEnvelope.run(
          e.chatId,
          e.epoch,
          e.recipient,
          e.wrappedKey,
          e.issuedAt,
          e.committer,
          JSON.stringify(e.members),
          e.signatureAlgorithm,
          e.signature,
        );
      else
        this.q.insertEnvelope.run(
          e.chatId,
          e.epoch,
          e.recipient,
          e.wrappedKey,
          e.issuedAt,
          e.serverSignature,
        );
    }
  }

  private latestEventId(): number {
    return ((this.q.latestEvent.get() as Row | undefined)?.latest as number | undefined) ?? 0;
  }

  private memberNames(chatId: string): string[] {
    return (this.q.memberNames.all(chatId) as Row[]).map((r) => r.username as string);
  }

  /**
   * Stores events after the change to the chat's members (made in this transaction): a chat's
   * event once, for the members as they are now, plus rows for anyone else it names.
   */
  private insertEvents(events: NewEvent[]): StoredEvent[] {
    const now = new Date().toISOString();
    const members = new Map<string, string[]>();
    const membersOf = (chatId: string) => {
      if (!members.has(chatId)) members.set(chatId, this.memberNames(chatId));
      return members.get(chatId) as string[];
    };
    return events.map((event) => {
      const { recipients, addressed } = audience(event, () => membersOf(event.chatId as string));
      const { type, data, chatId, toMembers } = event;
      const id = Number(
        this.q.insertEvent.run(type, data, now, chatId ?? null, toMembers ? 1 : 0, null).lastInsertRowid,
      );
      for (const username of addressed) this.q.insertRecipient.run(username, id);
      return { ...event, recipients, id };
    });
  }

  /**
   * Starts the spans of members added, and ends those of members removed, at the first of the
   * events `stored` with the change: the chat's events from there on go to the members after it.
   */
  private moveSpans(chatId: string, added: string[], removed: string[], stored: StoredEvent[]): void {
    const base = stored.length > 0 ? stored[0].id - 1 : this.latestEventId();
    for (const username of removed) this.q.closeSpan.run({ chat: chatId, username, base });
    for (const username of added) this.q.openSpan.run({ chat: chatId, username, base });
  }

  async createChat(chat: ChatRecord, envelopes: KeyEnvelope[], events: NewEvent[]): Promise<StoredEvent[]> {
    return this.db.transaction(() => {
      const at = chat.createdAt;
      this.q.insertChat.run(
        chat.id,
        chat.epoch,
        chat.createdBy,
        at,
        at,
        at,
        chat.keyMode ?? 'server',
        pendingText(chat.pending),
        chat.pending?.additionsSince ?? null,
      );
      for (const m of chat.members) this.q.upsertMember.run(chat.id, m.username, m.state, m.sinceEpoch);
      this.insertEnvelopes(envelopes);
      const stored = this.insertEvents(events);
      this.moveSpans(
        chat.id,
        chat.members.map((m) => m.username),
        [],
        stored,
      );
      return stored;
    })();
  }

  async getChat(chatId: string): Promise<ChatRecord | undefined> {
    const row = this.q.getChat.get(chatId) as Row | undefined;
    return row && this.chatFromRow(row);
  }

  async membership(chatId: string, username: string) {
    const row = this.q.membership.get(chatId, username) as Row | undefined;
    if (!row) return undefined;
    return {
      epoch: row.epoch as number,
      rekeyPending: blocksPosting(toPending(row.pending)),
      member: { username, state: row.state as MemberRecord['state'], sinceEpoch: row.since_epoch as number },
    };
  }

  async listChats(username: string, limit: number, after?: ChatCursor): Promise<ListedChat[]> {
    // one connection, read synchronously: the rows and their members are one snapshot
    const rows = this.q.chatsOf.all({
      username,
      limit,
      activeAt: after?.activeAt ?? null,
      id: after?.id ?? null,
      since: after?.since ?? null,
    }) as Row[];
    return rows.map((row) => ({ ...this.chatFromRow(row), activeAt: row.active as string }));
  }

  async countJoinedChats(username: string): Promise<number> {
    return (this.q.countJoinedChats.get(username) as Row).n as number;
  }

  async chatIdsOf(username: string): Promise<string[]> {
    return (this.q.chatIdsOf.all(username) as Row[]).map((r) => r.chat_id as string);
  }

  async changeMembership(change: MembershipChange): Promise<StoredEvent[]> {
    return this.db.transaction(() => {
      const { changes } = this.q.setEpoch.run({
        epoch: change.epoch,
        id: change.chatId,
        expected: change.expectedEpoch,
        now: new Date().toISOString(),
      });
      if (changes !== 1)
        throw new EpochConflictError(`chat ${change.chatId} is no longer at epoch ${change.expectedEpoch}`);
      if (change.pending) {
        const { next, expected } = change.pending;
        const set = this.q.setPending.run({
          id: change.chatId,
          next: pendingText(next),
          since: next?.additionsSince ?? null,
          expected: pendingText(expected),
        });
        if (set.changes !== 1)
          throw new EpochConflictError(`chat ${change.chatId}: its pending epoch changed meanwhile`);
      }
      for (const username of change.remove) this.q.removeMember.run(change.chatId, username);
      for (const m of change.upsert)
        this.q.upsertMember.run(change.chatId, m.username, m.state, m.sinceEpoch);
      this.insertEnvelopes(change.envelopes);
      const stored = this.insertEvents(change.events);
      this.moveSpans(
        change.chatId,
        change.upsert.map((m) => m.username),
        change.remove,
        stored,
      );
      return stored;
    })();
  }

  async getEnvelope(chatId: string, epoch: number, recipient: string): Promise<AnyKeyEnvelope | undefined> {
    const row = this.q.getEnvelope.get(chatId, epoch, recipient) as Row | undefined;
    if (row) return toEnvelope(row);
    const member = this.q.getMemberEnvelope.get(chatId, epoch, recipient) as Row | undefined;
    return member && toMemberEnvelope(member);
  }

  async chatsWithStaleAdditions(before: string, limit: number): Promise<string[]> {
    return (this.q.staleAdditions.all(before, limit) as Row[]).map((r) => r.id as string);
  }

  async appendMessage(input: NewMessage, eventData: (seq: number) => string) {
    return this.append({ input, eventData });
  }

  /** Posts that arrive together are stored in one transaction (each in its own savepoint). */
  private readonly append = groupCommit(
    async (batch: { input: NewMessage; eventData: (seq: number) => string }[]) =>
      this.db.transaction(() =>
        batch.map(({ input, eventData }): Settled<AppendedMessage> => {
          try {
            return { ok: true, value: this.appendOne(input, eventData) };
          } catch (error) {
            return { ok: false, error };
          }
        }),
      )(),
    APPEND_BATCH,
  );

  /**
   * One post, in a savepoint of the batch's transaction: a failed check leaves nothing behind. The
   * id's unique key is the duplicate check, as on PostgreSQL: one lookup fewer, and no second check
   * whose absence would surface as the database's own error.
   */
  private appendOne(input: NewMessage, eventData: (seq: number) => string): AppendedMessage {
    return this.db.transaction(() => {
      const { chatId, sender, message: m } = input;
      const chat = this.q.chatEpoch.get(chatId) as Row | undefined;
      const member = chat && (this.q.member.get(chatId, sender) as Row | undefined);
      if (!chat || !member) throw new AppendRefusedError('chat-not-found');
      if (member.state !== 'joined') throw new AppendRefusedError('not-joined');
      if (blocksPosting(toPending(chat.pending))) throw new AppendRefusedError('rekey-pending');
      if (chat.epoch !== m.epoch) throw new AppendRefusedError('stale-epoch', chat.epoch as number);
      const seq = chat.next_seq as number;
      insertMessage(() => this.q.insertMessage.run(...messageValues(input, seq)));
      this.q.bumpSeq.run(input.receivedAt, chatId);
      const recipients = this.memberNames(chatId);
      // stored once, for the chat's members; its data is made from the message when read
      const id = Number(
        this.q.insertEvent.run('message', '', input.receivedAt, chatId, 1, seq).lastInsertRowid,
      );
      const event = { id, type: 'message', data: eventData(seq), recipients, chatId, toMembers: true };
      return { seq, event, epochMessages: (chat.epoch_messages as number) + 1 };
    })();
  }

  async chatsDueForRotation(startedBefore: string, limit: number) {
    return (this.q.dueForRotation.all(startedBefore, limit) as Row[]).map((r) => ({
      chatId: r.id as string,
      epoch: r.epoch as number,
    }));
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
    const latest = this.latestEventId();
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
    return { prunedThrough, latest: this.latestEventId() };
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

  private insertUser(user: UserRecord): void {
    this.q.insertUser.run(
      user.username,
      user.passwordHash,
      JSON.stringify(user.keys),
      user.createdAt,
      user.lastSeen,
    );
  }

  // Registration is rare: its statements are prepared when used.
  async putRegistrationCode(code: RegistrationCode): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO registration_codes (username, code_hash, created_at, expires_at, used_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET code_hash = excluded.code_hash,
         created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at,
         reserved_until = NULL, reserved_by = NULL`,
      )
      .run(code.username, code.codeHash, code.createdAt, code.expiresAt, code.usedAt);
  }

  async reserveRegistrationCode({ username, codeHash, holder, now, until }: CodeHold): Promise<boolean> {
    const held = this.db
      .prepare(
        `UPDATE registration_codes SET reserved_until = ?, reserved_by = ?
         WHERE username = ? AND code_hash = ? AND used_at IS NULL AND expires_at > ?
           AND (reserved_until IS NULL OR reserved_until <= ?)`,
      )
      .run(until, holder, username, codeHash, now, now);
    return held.changes === 1;
  }

  async releaseRegistrationCode(username: string, holder: string): Promise<void> {
    this.db
      .prepare(
        `UPDATE registration_codes SET reserved_until = NULL, reserved_by = NULL
         WHERE username = ? AND reserved_by = ?`,
      )
      .run(username, holder);
  }

  async getRegistrationCode(username: string): Promise<RegistrationCode | undefined> {
    const row = this.db.prepare('SELECT * FROM registration_codes WHERE username = ?').get(username);
    return row ? toRegistrationCode(row as Row) : undefined;
  }

  async listRegistrationCodes(): Promise<RegistrationCode[]> {
    const rows = this.db.prepare('SELECT * FROM registration_codes ORDER BY username').all() as Row[];
    return rows.map(toRegistrationCode);
  }

  async deleteRegistrationCode(username: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM registration_codes WHERE username = ?').run(username).changes > 0;
  }

  async createUserWithCode(
    user: UserRecord,
    codeHash: string,
    now: string,
    holder?: string,
  ): Promise<CodedRegistration> {
    const consume = this.db.prepare(
      `UPDATE registration_codes SET used_at = ?, reserved_until = NULL, reserved_by = NULL
       WHERE username = ? AND code_hash = ? AND used_at IS NULL AND expires_at > ?
         AND (reserved_by IS NULL OR reserved_by = ? OR reserved_until <= ?)`,
    );
    const register = this.db.transaction((): CodedRegistration => {
      if (consume.run(now, user.username, codeHash, now, holder ?? null, now).changes !== 1)
        return 'invalid-code';
      // thrown, not returned: the code's use is rolled back with it
      if (this.q.getUser.get(user.username)) throw new UserExistsError(user.username);
      this.insertUser(user);
      return 'created';
    });
    try {
      // IMMEDIATE: the write lock first, so another connection cannot read the code unused meanwhile
      return register.immediate();
    } catch (error) {
      if (error instanceof UserExistsError) return 'username-taken';
      throw error;
    }
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
