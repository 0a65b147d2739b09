/**
 * The canonical strings of protocol v1: what is signed and what is bound as AES-GCM AAD.
 * Fields are joined with one line feed and no trailing newline; all are UTF-8.
 */

export interface EnvelopeFields {
  chatId: string;
  epoch: number;
  recipient: string;
  wrappedKey: string;
  issuedAt: string;
}

export interface MessageHeader {
  chatId: string;
  epoch: number;
  sender: string;
  id: string;
  sentAt: string;
}

export interface SealedParts {
  iv: string;
  ciphertext: string;
  tag: string;
}

export function envelopeSigningInput(e: EnvelopeFields): Buffer {
  return Buffer.from(
    ['securechat/v1/key', e.chatId, String(e.epoch), e.recipient, e.wrappedKey, e.issuedAt].join('\n'),
    'utf8',
  );
}

export function messageAad(h: MessageHeader): string {
  return ['securechat/v1/msg', h.chatId, String(h.epoch), h.sender, h.id, h.sentAt].join('\n');
}

export function messageSigningInput(h: MessageHeader, parts: SealedParts): Buffer {
  return Buffer.from([messageAad(h), parts.iv, parts.ciphertext, parts.tag].join('\n'), 'utf8');
}
