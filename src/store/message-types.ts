import type { PrevRef } from '../client/canonical.js';
import type { SignatureAlgorithm } from '../crypto/keys.js';

/** The port's messages and events: posting, history, replay and pruning. */
export interface MessageStore {
  /**
   * Gives the message the chat's next seq and stores it with its event, atomically, after
   * re-checking that the sender is a joined member, no pending epoch stops posting
   * (chat-types.ts `blocksPosting`) and the epoch is current; else throws {@link AppendRefusedError}
   * with the reason. Posts that arrive together share a
   * transaction (group commit); each still succeeds or fails on its own. The event is stored once
   * for the chat's members (no copy of the message); `eventData` makes its data.
   */
  appendMessage(input: NewMessage, eventData: (seq: number) => string): Promise<AppendedMessage>;
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
  /** The transcript fields of a version-2 message (all three or none), stored and returned as sent. */
  device?: string;
  counter?: number;
  prev?: PrevRef | null;
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

/** Why {@link MessageStore.appendMessage} stored nothing: the sender's standing or the message changed. */
export type AppendRefusal =
  | 'chat-not-found'
  | 'not-joined'
  | 'stale-epoch'
  | 'duplicate-message'
  | 'rekey-pending'
  | 'invalid-prev';

/**
 * A message the store refused; `epoch` is the chat's current one when the reason is 'stale-epoch'.
 * 'invalid-prev': its `prev.seq` is not lower than the seq it would get.
 */
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
