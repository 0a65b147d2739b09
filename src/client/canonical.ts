/**
 * The canonical strings of protocol v1 (docs: protocol.md): what is signed and what is bound as
 * AES-GCM AAD. Fields are joined with one line feed and no trailing newline; all are signed as
 * UTF-8. The server builds the same strings from here (src/crypto/canonical.ts).
 */

export interface EnvelopeFields {
  chatId: string;
  epoch: number;
  recipient: string;
  wrappedKey: string;
  issuedAt: string;
}

/** The latest message a device had received in the chat when it wrote one (protocol.md, "Transcript integrity"). */
export interface PrevRef {
  seq: number;
  /** Lowercase hex SHA-256 of that message's signing input bytes. */
  hash: string;
}

/** The three fields of a version-2 message: where it stands in its device's sequence, what it saw. */
export interface TranscriptFields {
  device: string;
  counter: number;
  prev: PrevRef | null;
}

export interface MessageHeader {
  chatId: string;
  epoch: number;
  sender: string;
  id: string;
  sentAt: string;
  /** Present on a version-2 message (its AAD binds them); absent on a version-1 one. */
  transcript?: TranscriptFields;
}

export interface SealedParts {
  iv: string;
  ciphertext: string;
  tag: string;
}

export function envelopeSigningText(e: EnvelopeFields): string {
  return ['securechat/v1/key', e.chatId, String(e.epoch), e.recipient, e.wrappedKey, e.issuedAt].join('\n');
}

/** A members-mode envelope's fields: who committed it, and the epoch's whole member list. */
export interface MemberEnvelopeFields extends EnvelopeFields {
  committer: string;
  members: readonly string[];
}

/** Usernames sorted by code point (not by locale), as the member-key string lists them. */
export function sortedNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** protocol.md, "Chats the server cannot read": what a committing member signs for each recipient. */
export function memberEnvelopeSigningText(e: MemberEnvelopeFields): string {
  return [
    'securechat/v1/member-key',
    e.chatId,
    String(e.epoch),
    e.recipient,
    e.wrappedKey,
    e.issuedAt,
    e.committer,
    sortedNames(e.members).join(','),
  ].join('\n');
}

/** The version-1 AAD, or the version-2 one when the header carries the transcript fields. */
export function messageAad(h: MessageHeader): string {
  const base = [h.chatId, String(h.epoch), h.sender, h.id, h.sentAt];
  const t = h.transcript;
  if (!t) return ['securechat/v1/msg', ...base].join('\n');
  const prev = t.prev ? [String(t.prev.seq), t.prev.hash] : ['', ''];
  return ['securechat/v2/msg', ...base, t.device, String(t.counter), ...prev].join('\n');
}

export function messageSigningText(h: MessageHeader, parts: SealedParts): string {
  return [messageAad(h), parts.iv, parts.ciphertext, parts.tag].join('\n');
}
