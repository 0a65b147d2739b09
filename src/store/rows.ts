import type { KeyEnvelope } from '../crypto/envelope.js';
import type { MessageRecord, NewMessage, RegistrationCode, StoredEvent, UserRecord } from './types.js';

/** A row as both SQL adapters read it: column names in snake_case. */
export type Row = Record<string, unknown>;

export const toUser = (r: Row): UserRecord => ({
  username: r.username as string,
  passwordHash: r.password_hash as string,
  keys: JSON.parse(r.keys as string),
  createdAt: r.created_at as string,
  lastSeen: (r.last_seen as string | null) ?? null,
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

export const toMessage = (r: Row): MessageRecord => ({
  chatId: r.chat_id as string,
  seq: r.seq as number,
  sender: r.sender as string,
  receivedAt: r.received_at as string,
  message: {
    id: r.id as string,
    epoch: r.epoch as number,
    sentAt: r.sent_at as string,
    iv: r.iv as string,
    ciphertext: r.ciphertext as string,
    tag: r.tag as string,
    signatureAlgorithm: r.sig_alg as MessageRecord['message']['signatureAlgorithm'],
    signature: r.signature as string,
  },
});

/** The values of a `messages` row, in column order (chat_id, seq, id, id_lower, sender, epoch, ...). */
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
  ];
};

/** A stored event as read for one recipient's replay. */
export const toEvent = (r: Row, username: string): StoredEvent => ({
  id: r.id as number,
  type: r.type as string,
  data: r.data as string,
  recipients: [username],
  ...(r.chat_id != null && { chatId: r.chat_id as string }),
});

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
