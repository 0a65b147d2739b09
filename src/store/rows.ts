import type { MemberKeyEnvelope } from '../client/members.js';
import type { KeyEnvelope } from '../crypto/envelope.js';
import type { PendingEpoch } from './chat-types.js';
import type { MessageBody, MessageRecord, NewEvent, NewMessage, StoredEvent } from './message-types.js';
import type { RegistrationCode, UserRecord } from './user-types.js';

/** A row as both SQL adapters read it: column names in snake_case. */
export type Row = Record<string, unknown>;

export const toUser = (r: Row): UserRecord => ({
  username: r.username as string,
  passwordHash: r.password_hash as string,
  keys: JSON.parse(r.keys as string),
  createdAt: r.created_at as string,
  lastSeen: (r.last_seen as string | null) ?? null,
  removedAt: (r.removed_at as string | null | undefined) ?? null,
  sessionGeneration: Number(r.session_generation ?? 0),
  keyChanges: r.key_changes ? JSON.parse(r.key_changes as string) : [],
});

export const toEnvelope = (r: Row): KeyEnvelope => ({
  chatId: r.chat_id as string,
  epoch: r.epoch as number,
  recipient: r.recipient as string,
  algorithm: 'RSA-OAEP-SHA256',
  wrappedKey: r.wrapped_key as string,
  issuedAt: r.issued_at as string,
  serverSignature: r.server_signature as string,
});

export const toMemberEnvelope = (r: Row): MemberKeyEnvelope => ({
  chatId: r.chat_id as string,
  epoch: r.epoch as number,
  recipient: r.recipient as string,
  algorithm: 'RSA-OAEP-SHA256',
  wrappedKey: r.wrapped_key as string,
  issuedAt: r.issued_at as string,
  committer: r.committer as string,
  members: JSON.parse(r.members as string),
  signatureAlgorithm: r.sig_alg as MemberKeyEnvelope['signatureAlgorithm'],
  signature: r.signature as string,
});

/** A pending epoch as stored (JSON text), compared as that text when it is replaced. */
export const pendingText = (p: PendingEpoch | null | undefined): string | null =>
  p ? JSON.stringify(p) : null;

export const toPending = (text: unknown): PendingEpoch | null =>
  typeof text === 'string' ? (JSON.parse(text) as PendingEpoch) : null;

/** A `messages` row (its columns named with `prefix`, when read joined to another table). */
export const toMessage = (r: Row, prefix = ''): MessageRecord => ({
  chatId: r[`${prefix}chat_id`] as string,
  seq: r[`${prefix}seq`] as number,
  sender: r[`${prefix}sender`] as string,
  receivedAt: r[`${prefix}received_at`] as string,
  message: {
    id: r[`${prefix}id`] as string,
    epoch: r[`${prefix}epoch`] as number,
    sentAt: r[`${prefix}sent_at`] as string,
    iv: r[`${prefix}iv`] as string,
    ciphertext: r[`${prefix}ciphertext`] as string,
    tag: r[`${prefix}tag`] as string,
    signatureAlgorithm: r[`${prefix}sig_alg`] as MessageRecord['message']['signatureAlgorithm'],
    signature: r[`${prefix}signature`] as string,
    ...transcriptOf(r, prefix),
  },
});

/** A version-2 message's three fields from its row (none for a version-1 message: `device` NULL). */
function transcriptOf(r: Row, prefix: string): Pick<MessageBody, 'device' | 'counter' | 'prev'> {
  const device = r[`${prefix}device`] as string | null | undefined;
  if (device == null) return {};
  const prevSeq = r[`${prefix}prev_seq`] as number | string | null;
  return {
    device,
    counter: Number(r[`${prefix}counter`]),
    prev: prevSeq == null ? null : { seq: Number(prevSeq), hash: r[`${prefix}prev_hash`] as string },
  };
}

/**
 * The event data (and history item) of a message: sender and seq come from the server. A stored
 * message event holds none of it (data ''); it is made again from the message when read, so this
 * is its one definition (migration 6 matches it byte for byte in SQL).
 */
export function messageEventData(record: MessageRecord): string {
  const m = record.message;
  return JSON.stringify({
    chatId: record.chatId,
    seq: record.seq,
    sender: record.sender,
    receivedAt: record.receivedAt,
    message: {
      id: m.id,
      epoch: m.epoch,
      sentAt: m.sentAt,
      iv: m.iv,
      ciphertext: m.ciphertext,
      tag: m.tag,
      signatureAlgorithm: m.signatureAlgorithm,
      signature: m.signature,
      ...(m.device !== undefined && { device: m.device, counter: m.counter, prev: m.prev ?? null }),
    },
  });
}

/** The columns of the message joined as `m` to an event `e`, named for {@link toEvent}. */
export const JOINED_MESSAGE = `m.chat_id AS m_chat_id, m.seq AS m_seq, m.id AS m_id, m.sender AS m_sender,
  m.epoch AS m_epoch, m.sent_at AS m_sent_at, m.iv AS m_iv, m.ciphertext AS m_ciphertext, m.tag AS m_tag,
  m.sig_alg AS m_sig_alg, m.signature AS m_signature, m.received_at AS m_received_at,
  m.device AS m_device, m.counter AS m_counter, m.prev_seq AS m_prev_seq, m.prev_hash AS m_prev_hash`;
/** Joins to an event `e` the message whose data it stands for (none for other events). */
export const JOIN_MESSAGE = "LEFT JOIN messages m ON e.data = '' AND m.chat_id = e.chat_id AND m.seq = e.seq";

/** An event's data: stored, or (a message's) made from its message read with {@link JOINED_MESSAGE}. */
export function eventData(r: Row): string {
  if (r.data !== '') return r.data as string;
  if (r.m_seq == null) throw new Error(`event ${r.id}: its message is missing`);
  return messageEventData(toMessage(r, 'm_'));
}

/**
 * The values of a `messages` row, in column order (chat_id, seq, id, id_lower, sender, epoch, ...,
 * received_at, device, counter, prev_seq, prev_hash).
 */
export const messageValues = (input: NewMessage, seq: number): unknown[] => {
  const m = input.message;
  return [
    input.chatId,
    seq,
    m.id,
    m.id.toLowerCase(),
    input.sender,
    m.epoch,
    m.sentAt,
    m.iv,
    m.ciphertext,
    m.tag,
    m.signatureAlgorithm,
    m.signature,
    input.receivedAt,
    m.device ?? null,
    m.counter ?? null,
    m.prev?.seq ?? null,
    m.prev?.hash ?? null,
  ];
};

/** A stored event as read for one recipient's replay (with its message joined). */
export const toEvent = (r: Row, username: string): StoredEvent => ({
  id: r.id as number,
  type: r.type as string,
  data: eventData(r),
  recipients: [username],
  ...(r.chat_id != null && { chatId: r.chat_id as string }),
});

/**
 * Who receives an event stored after a change to its chat's `members` (the members as the change
 * leaves them): a chat's event goes to them (derived, no rows) and to anyone else it names, who get
 * rows of their own (`addressed`), as every recipient of an event that is not the chat's does.
 */
export function audience(
  event: NewEvent,
  members: () => string[],
): { recipients: string[]; addressed: string[] } {
  if (!event.toMembers) return { recipients: event.recipients, addressed: event.recipients };
  if (event.chatId === undefined) throw new Error(`a ${event.type} event for members names no chat`);
  const current = members();
  const inChat = new Set(current);
  const addressed = event.recipients.filter((u) => !inChat.has(u));
  return { recipients: [...current, ...addressed], addressed };
}

/**
 * Takes rows while their cost stays within `maxBytes` (always the first), and stops reading
 * there: a page of large rows is never held in memory whole.
 */
export function takeWithin<T>(
  rows: Iterable<Row>,
  maxBytes: number,
  convert: (row: Row) => [T, number],
): T[] {
  const taken: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    const [item, cost] = convert(row);
    if (taken.length > 0 && bytes + cost > maxBytes) break;
    taken.push(item);
    bytes += cost;
  }
  return taken;
}

export const toRegistrationCode = (r: Row): RegistrationCode => ({
  username: r.username as string,
  codeHash: r.code_hash as string,
  createdAt: r.created_at as string,
  expiresAt: r.expires_at as string,
  usedAt: (r.used_at as string | null) ?? null,
});
