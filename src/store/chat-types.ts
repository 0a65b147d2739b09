import type { AnyKeyEnvelope } from '../client/members.js';
import type { KeyEnvelope } from '../crypto/envelope.js';
import type { NewEvent, StoredEvent } from './message-types.js';

/** The port's chats and memberships: members, epochs, pending epochs and key envelopes. */
export interface ChatStore {
  /** Stores a new chat at its first epoch with its envelopes (or its pending first epoch), and its events. */
  createChat(chat: ChatRecord, envelopes: KeyEnvelope[], events: NewEvent[]): Promise<StoredEvent[]>;
  getChat(chatId: string): Promise<ChatRecord | undefined>;
  /**
   * One member's standing and the chat's epoch, without loading every member (the hot path of
   * posting); `rekeyPending`: posting waits for a pending epoch's key ({@link blocksPosting}).
   */
  membership(
    chatId: string,
    username: string,
  ): Promise<{ epoch: number; member: MemberRecord; rekeyPending?: boolean } | undefined>;
  /**
   * The chats `username` is a member of, most recent activity first (ties by id, descending),
   * at most `limit`, starting after `after` in that order (and only those active since
   * `after.since`). Chat rows and members are read in one snapshot.
   */
  listChats(username: string, limit: number, after?: ChatCursor): Promise<ListedChat[]>;
  /** How many chats `username` has joined (invitations not accepted yet do not count). */
  countJoinedChats(username: string): Promise<number>;
  /** The ids of the chats `username` is a member of. */
  chatIdsOf(username: string): Promise<string[]>;
  /**
   * Applies a membership change if the chat is still at `expectedEpoch` (else throws
   * {@link EpochConflictError}, and the caller recomputes): members added, updated or removed, the
   * epoch set, the new envelopes and the events stored together.
   */
  changeMembership(change: MembershipChange): Promise<StoredEvent[]>;
  /** Server-made or member-made, as the chat's key mode made it. */
  getEnvelope(chatId: string, epoch: number, recipient: string): Promise<AnyKeyEnvelope | undefined>;
  /** How many members-mode chats have a pending epoch (a gauge of the metrics). */
  countPendingEpochs(): Promise<number>;
  /** Members-mode chats whose pending epoch has waited with additions since before `before`. */
  chatsWithStaleAdditions(before: string, limit: number): Promise<string[]>;
  /**
   * Chats (with members) whose current epoch began before `startedBefore`, with that epoch: their
   * keys are due to rotate. A chat whose pending epoch stops posting is left out (it rotates with
   * that epoch); one whose pending epoch only adds is not (the rotation drops the additions).
   */
  chatsDueForRotation(startedBefore: string, limit: number): Promise<{ chatId: string; epoch: number }[]>;
}

export type MemberState = 'invited' | 'joined';

export interface MemberRecord {
  username: string;
  state: MemberState;
  /** The first epoch whose key this member received; earlier messages are not theirs to read. */
  sinceEpoch: number;
}

export type KeyMode = 'server' | 'members';
export type PendingReason = 'create' | 'invite' | 'leave' | 'messages' | 'age';

/** A members-mode chat's next epoch, waiting for a member's client to commit its key. */
export interface PendingEpoch {
  epoch: number;
  /** The new member list, sorted by code point. */
  members: string[];
  added: string[];
  removed: string[];
  reason: PendingReason;
  /** Who asked for the additions (the `invitedBy` of their `chat.invited`). */
  requestedBy?: string;
  /** When the additions began to wait (they are dropped after SECURECHAT_PENDING_SECONDS). */
  additionsSince?: string;
}

/**
 * Whether a pending epoch only adds members (protocol.md, "Pending epochs"): then members go on
 * posting under the current epoch, since the invitees are not members until the commit. A removal,
 * a rotation or a chat's first epoch stops posting until its key comes. The SQL of both engines
 * (posting, the rotation sweep) says the same over the stored JSON.
 */
export const addsOnly = (p: PendingEpoch): boolean => p.reason === 'invite' && p.removed.length === 0;

/** Whether posting waits for the pending epoch's key (409 REKEY_PENDING). */
export const blocksPosting = (p: PendingEpoch | null | undefined): boolean => !!p && !addsOnly(p);

export interface ChatRecord {
  id: string;
  /** 0 in a members-mode chat whose first epoch waits for its key. */
  epoch: number;
  createdBy: string;
  createdAt: string;
  members: MemberRecord[];
  /** Absent: `server`. */
  keyMode?: KeyMode;
  pending?: PendingEpoch | null;
}

/** Where a page of {@link ChatStore.listChats} starts. */
export interface ChatCursor {
  /** After this chat (its activity time and id) in the order; from the top without them. */
  activeAt?: string;
  id?: string;
  /** Only chats with an event for the user after this event id (they were active since then). */
  since?: number;
}

export interface ListedChat extends ChatRecord {
  /** The last message or membership change. */
  activeAt: string;
}

export interface MembershipChange {
  chatId: string;
  expectedEpoch: number;
  epoch: number;
  upsert: MemberRecord[];
  remove: string[];
  envelopes: AnyKeyEnvelope[];
  events: NewEvent[];
  /**
   * Members mode: the pending epoch replaced only if it is still `expected` (else
   * {@link EpochConflictError}); absent, the pending epoch is left as it is.
   */
  pending?: { expected: PendingEpoch | null; next: PendingEpoch | null };
}

/** The chat moved on while a change was being prepared; recompute and try again. */
export class EpochConflictError extends Error {}
