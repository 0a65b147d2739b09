/**
 * The canonical strings of protocol v1 as bytes for node:crypto. The strings themselves live once,
 * in the client library (src/client/canonical.ts), which clients and the server share.
 */
import {
  type EnvelopeFields,
  envelopeSigningText,
  type MemberEnvelopeFields,
  type MessageHeader,
  memberEnvelopeSigningText,
  messageAad,
  messageSigningText,
  type SealedParts,
  type TranscriptFields,
} from '../client/canonical.js';

export type { EnvelopeFields, MemberEnvelopeFields, MessageHeader, SealedParts, TranscriptFields };
export { messageAad };

export function envelopeSigningInput(e: EnvelopeFields): Buffer {
  return Buffer.from(envelopeSigningText(e), 'utf8');
}

export function messageSigningInput(h: MessageHeader, parts: SealedParts): Buffer {
  return Buffer.from(messageSigningText(h, parts), 'utf8');
}

export function memberEnvelopeSigningInput(e: MemberEnvelopeFields): Buffer {
  return Buffer.from(memberEnvelopeSigningText(e), 'utf8');
}
