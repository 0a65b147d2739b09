import type Database from 'better-sqlite3';
import type { AnyKeyEnvelope } from '../../client/members.js';
import type { KeyEnvelope } from '../../crypto/envelope.js';
import {
  blocksPosting,
  type ChatCursor,
  type ChatRecord,
  type ChatStore,
  type ListedChat,
  type MemberRecord,
  type MembershipChange,
} from '../chat-types.js';
import { changeMembershipSteps, createChatSteps, type MembershipWrites, runNow } from '../membership.js';
import type { NewEvent, StoredEvent } from '../message-types.js';
import { type Row, toEnvelope, toMemberEnvelope, toPending } from '../rows.js';
import type { ChatRecipients } from './recipients.js';
import type { Statements } from './statements.js';
import { sqliteWrites } from './writes.js';

/** SQLite's chats and memberships; a change of members is membership.ts's, run on writes.ts. */
export class SqliteChats implements ChatStore {
  private readonly writes: MembershipWrites;

  constructor(
    private readonly db: Database.Database,
    private readonly q: Statements,
    private readonly recipients: ChatRecipients,
  ) {
    this.writes = sqliteWrites(q, recipients);
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

  async createChat(chat: ChatRecord, envelopes: KeyEnvelope[], events: NewEvent[]): Promise<StoredEvent[]> {
    try {
      return this.db.transaction(() => runNow(createChatSteps(this.writes, chat, envelopes, events)))();
    } finally {
      // forgotten again once the change committed or rolled back: nothing read meanwhile is kept
      this.recipients.forget(chat.id);
    }
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
    try {
      return this.db.transaction(() => runNow(changeMembershipSteps(this.writes, change)))();
    } finally {
      this.recipients.forget(change.chatId);
    }
  }

  async getEnvelope(chatId: string, epoch: number, recipient: string): Promise<AnyKeyEnvelope | undefined> {
    const row = this.q.getEnvelope.get(chatId, epoch, recipient) as Row | undefined;
    if (row) return toEnvelope(row);
    const member = this.q.getMemberEnvelope.get(chatId, epoch, recipient) as Row | undefined;
    return member && toMemberEnvelope(member);
  }

  async countPendingEpochs(): Promise<number> {
    return (this.q.pendingEpochs.get() as { n: number }).n;
  }

  async chatsWithStaleAdditions(before: string, limit: number): Promise<string[]> {
    return (this.q.staleAdditions.all(before, limit) as Row[]).map((r) => r.id as string);
  }

  async chatsDueForRotation(startedBefore: string, limit: number) {
    return (this.q.dueForRotation.all(startedBefore, limit) as Row[]).map((r) => ({
      chatId: r.id as string,
      epoch: r.epoch as number,
    }));
  }
}
