import type { AnyKeyEnvelope } from '../client/members.js';
import type { KeyEnvelope } from '../crypto/envelope.js';
import type { PublicKeySet, SignatureAlgorithm } from '../crypto/keys.js';

/**
 * The storage port. Every method is one atomic step of the domain, so that an adapter over a
 * networked database (PostgreSQL) can run each in one transaction; the SQLite adapter is first.
 */
export interface Store {
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Stores `value` under `key` unless a value is there already; returns the stored one. */
  claim(key: string, value: string): Promise<string>;

  createUser(user: UserRecord): Promise<void>;
  getUser(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<{ username: string; lastSeen: string | null }[]>;
  setLastSeen(username: string, at: string): Promise<void>;
  /** Replaces a password hash only if it is still `previous` (a re-hash at another bcrypt cost). */
  replacePasswordHash(username: string, previous: string, next: string): Promise<void>;

  revokeToken(jti: string, expiresAt: number): Promise<void>;
  isTokenRevoked(jti: string): Promise<boolean>;

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
  /** Members-mode chats whose pending epoch has waited with additions since before `before`. */
  chatsWithStaleAdditions(before: string, limit: number): Promise<string[]>;

  /**
   * Gives the message the chat's next seq and stores it with its event, atomically, after
   * re-checking that the sender is a joined member, no pending epoch stops posting
   * ({@link blocksPosting}) and the epoch is current; else throws {@link AppendRefusedError}
   * with the reason. Posts that arrive together share a
   * transaction (group commit); each still succeeds or fails on its own. The event is stored once
   * for the chat's members (no copy of the message); `eventData` makes its data.
   */
  appendMessage(input: NewMessage, eventData: (seq: number) => string): Promise<AppendedMessage>;
  /**
   * Chats (with members) whose current epoch began before `startedBefore`, with that epoch: their
   * keys are due to rotate. A chat whose pending epoch stops posting is left out (it rotates with
   * that epoch); one whose pending epoch only adds is not (the rotation drops the additions).
   */
  chatsDueForRotation(startedBefore: string, limit: number): Promise<{ chatId: string; epoch: number }[]>;
  /**
   * Messages with seq > after and epoch >= minEpoch, oldest first: at most `limit`, and no more
   * than fit in `maxBytes` (counted by {@link messageBytes}), but always the first one.
   */
  listMessages(
    chatId: string,
    after: number,
    limit: number,
    minEpoch: number,
    maxBytes: number,
  ): Promise<MessageRecord[]>;

  /**
   * Stored events for `username` with id > afterId, oldest first: at most `limit`, and no more
   * than fit in `maxBytes` of data, but always the first one. A chat's events are the user's from
   * when they joined it until they left; other events are the user's when addressed to them.
   */
  eventsAfter(username: string, afterId: number, limit: number, maxBytes: number): Promise<StoredEvent[]>;
  /**
   * Stored events with fromId <= id <= toId, with every recipient, oldest first: a bus that
   * missed a publication (an instance died between commit and publish) fills the gap from here.
   */
  eventsBetween(fromId: number, toId: number): Promise<StoredEvent[]>;
  /** Ids at or below `prunedThrough` are gone; `latest` is the largest id issued. */
  eventBounds(): Promise<{ prunedThrough: number; latest: number }>;
  /**
   * Deletes the oldest events created before `before`, at most `batch` of them, and revocations
   * expired before `now` (ms); returns the events deleted. The caller repeats while it returns
   * `batch`, yielding in between, so that no single transaction holds the database for long.
   */
  prune(before: string, now: number, batch: number): Promise<number>;

  /** Makes the registration code for `username`, replacing any earlier one. */
  putRegistrationCode(code: RegistrationCode): Promise<void>;
  getRegistrationCode(username: string): Promise<RegistrationCode | undefined>;
  /** Every code, used and expired ones included, by username. */
  listRegistrationCodes(): Promise<RegistrationCode[]>;
  /** Deletes the code for `username`; false when there was none. */
  deleteRegistrationCode(username: string): Promise<boolean>;
  /**
   * Holds the code of `username` for the request `holder` until `until`, in one conditional write,
   * if it has `codeHash`, is unused, expires after `now` and nobody else holds it (a hold that
   * ended by `now` is nobody's). Of concurrent calls, on any instance, one at most answers true.
   */
  reserveRegistrationCode(hold: CodeHold): Promise<boolean>;
  /** Lets go of `holder`'s hold on the code of `username`, if it still has it. */
  releaseRegistrationCode(username: string, holder: string): Promise<void>;
  /**
   * In one transaction: marks the code of `user.username` used if it still has `codeHash`, is
   * unused, expires after `now` and nobody but `holder` holds it, and creates the user. Of two
   * concurrent calls with one code, one at most answers `created`; on any other answer nothing changed.
   */
  createUserWithCode(
    user: UserRecord,
    codeHash: string,
    now: string,
    holder?: string,
  ): Promise<CodedRegistration>;
}

/** One request's hold on a registration code while it checks the rest of the registration. */
export interface CodeHold {
  username: string;
  codeHash: string;
  holder: string;
  now: string;
  until: string;
}

/** A one-time registration code: only the SHA-256 (hex) of the code itself is kept. */
export interface RegistrationCode {
  username: string;
  codeHash: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}

export type CodedRegistration = 'created' | 'invalid-code' | 'username-taken';

export interface UserRecord {
  username: string;
  passwordHash: string;
  keys: PublicKeySet;
  createdAt: string;
  lastSeen: string | null;
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

/** Where a page of {@link Store.listChats} starts. */
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

/** An event to store; `data` is its JSON text, exactly as it goes on the wire. */
export interface NewEvent {
  type: string;
  data: string;
  /**
   * Who receives it. With `toMembers`, the store sets them: the chat's members as the change
   * leaves them, plus those named here who are not members (who left, and learn it).
   */
  recipients: string[];
  /** The chat it concerns (kept in a column, so that replay need not parse `data`). */
  chatId?: string;
  /**
   * A chat's event (a join, a leave), stored once for the chat: its recipients are derived from
   * membership. Without it the event is addressed to each of `recipients` (an invitation, a key).
   */
  toMembers?: boolean;
}

export interface StoredEvent extends NewEvent {
  id: number;
}

export interface MessageBody {
  id: string;
  epoch: number;
  sentAt: string;
  iv: string;
  ciphertext: string;
  tag: string;
  signatureAlgorithm: SignatureAlgorithm;
  signature: string;
}

export interface MessageRecord {
  chatId: string;
  seq: number;
  sender: string;
  receivedAt: string;
  message: MessageBody;
}

export interface NewMessage {
  chatId: string;
  sender: string;
  receivedAt: string;
  message: MessageBody;
}

export interface AppendedMessage {
  seq: number;
  event: StoredEvent;
  /** Messages in the chat's current epoch, this one included. */
  epochMessages: number;
}

export class UserExistsError extends Error {}
/** The chat moved on while a change was being prepared; recompute and try again. */
export class EpochConflictError extends Error {}

/** Why {@link Store.appendMessage} stored nothing: the sender's standing or the message changed. */
export type AppendRefusal =
  | 'chat-not-found'
  | 'not-joined'
  | 'stale-epoch'
  | 'duplicate-message'
  | 'rekey-pending';

/** A message the store refused; `epoch` is the chat's current one when the reason is 'stale-epoch'. */
export class AppendRefusedError extends Error {
  constructor(
    readonly reason: AppendRefusal,
    readonly epoch?: number,
  ) {
    super(`message refused: ${reason}`);
    this.name = 'AppendRefusedError';
  }
}

/**
 * What one message costs in a history page, close to its JSON size: its variable fields plus a
 * fixed allowance for names and punctuation. Both stores count the same way.
 */
export const MESSAGE_OVERHEAD_BYTES = 400;
export const messageBytes = (m: MessageRecord): number =>
  MESSAGE_OVERHEAD_BYTES + m.message.ciphertext.length + m.message.signature.length;
