import { fromBase64, fromUtf8, randomId, toBase64, utf8 } from './bytes.js';
import {
  type MessageHeader,
  messageAad,
  messageSigningText,
  type PrevRef,
  type SealedParts,
  type TranscriptFields,
} from './canonical.js';
import { open, seal } from './envelope.js';
import { MessageRefused } from './errors.js';
import { isSignatureAlgorithm, type SignatureAlgorithm } from './keys.js';
import type { KeyHandle, SignatureProvider } from './signatures.js';
import { escapeControls, shortId } from './text.js';

/** The body of POST /chats/{chatId}/messages, and `message` of a message event. */
export interface MessageBody extends SealedParts {
  id: string;
  epoch: number;
  sentAt: string;
  signatureAlgorithm: SignatureAlgorithm;
  signature: string;
  /** Version 2 (protocol.md, "Transcript integrity"): all three, or none on a version-1 message. */
  device?: string;
  counter?: number;
  prev?: PrevRef | null;
}

/** A `message` event's data, and each item of GET /chats/{chatId}/messages. */
export interface MessageData {
  chatId: string;
  seq: number;
  sender: string;
  receivedAt: string;
  message: MessageBody;
}

export interface ComposeInput {
  chatId: string;
  epoch: number;
  sender: string;
  key: CryptoKey;
  text: string;
  alg: SignatureAlgorithm;
  signingKey: KeyHandle;
  /** Where it stands in its device's sequence and what it saw: makes it a version-2 message. */
  transcript?: TranscriptFields;
  /** A given id (a message sent again keeps its id) or, in tests only, time. */
  id?: string;
  sentAt?: string;
}

/** Seals the text under the chat key (AAD from the header) and signs the sealed parts. */
export async function composeMessage(provider: SignatureProvider, input: ComposeInput): Promise<MessageBody> {
  const header: MessageHeader = {
    chatId: input.chatId,
    epoch: input.epoch,
    sender: input.sender,
    id: input.id ?? randomId(),
    sentAt: input.sentAt ?? new Date().toISOString(),
    transcript: input.transcript,
  };
  const parts = await seal(input.key, utf8(input.text), messageAad(header));
  const signature = await provider.sign(input.alg, input.signingKey, utf8(messageSigningText(header, parts)));
  return {
    id: header.id,
    epoch: header.epoch,
    sentAt: header.sentAt,
    ...parts,
    signatureAlgorithm: input.alg,
    signature: toBase64(signature),
    ...input.transcript,
  };
}

/** The transcript fields a message carries, if it carries all three (else it is version 1). */
export function transcriptOf(m: MessageBody): TranscriptFields | undefined {
  if (m.device === undefined || m.counter === undefined || m.prev === undefined) return undefined;
  return { device: m.device, counter: m.counter, prev: m.prev };
}

export function headerOf(data: Pick<MessageData, 'chatId' | 'sender' | 'message'>): MessageHeader {
  const m = data.message;
  return {
    chatId: data.chatId,
    epoch: m.epoch,
    sender: data.sender,
    id: m.id,
    sentAt: m.sentAt,
    transcript: transcriptOf(m),
  };
}

/** The scheme a message names, if it is one of the protocol's. */
export function messageScheme(data: MessageData, chatId: string): SignatureAlgorithm {
  if (data?.chatId !== chatId)
    throw new MessageRefused(
      `it belongs to chat ${shortId(String(data?.chatId))}, not to chat ${shortId(chatId)}`,
    );
  const alg = data.message?.signatureAlgorithm;
  if (!isSignatureAlgorithm(alg))
    throw new MessageRefused(`unknown signature scheme ${escapeControls(String(alg))}`);
  return alg;
}

export async function verifyMessageSignature(
  provider: SignatureProvider,
  publicKey: KeyHandle,
  data: MessageData,
): Promise<boolean> {
  const m = data.message;
  const signature = fromBase64(m.signature);
  if (!signature) return false;
  return provider.verify(
    m.signatureAlgorithm,
    publicKey,
    utf8(messageSigningText(headerOf(data), m)),
    signature,
  );
}

/** Decrypts with the epoch's key and the AAD rebuilt from the message's own fields. */
export async function openMessage(key: CryptoKey, data: MessageData): Promise<string> {
  try {
    return fromUtf8(await open(key, data.message, messageAad(headerOf(data))));
  } catch {
    throw new MessageRefused('the ciphertext does not decrypt under the chat key (tampered)');
  }
}

type MessageRef = { chatId?: unknown; message?: { id?: unknown } };

/**
 * The (chatId, id) pairs one view has shown (protocol.md: show each once, however often it
 * arrives). A long session remembers the most recent `limit` only: a replay of older ones is
 * older than any resume.
 */
export class SeenMessages {
  private readonly ids = new Set<string>();

  constructor(private readonly limit = 100_000) {}

  private static key(data: MessageRef): string {
    return `${data?.chatId}/${data?.message?.id}`;
  }

  has(data: MessageRef): boolean {
    return this.ids.has(SeenMessages.key(data));
  }

  add(data: MessageRef): void {
    this.ids.add(SeenMessages.key(data));
    if (this.ids.size > this.limit) this.ids.delete(this.ids.values().next().value as string);
  }

  /** Records it; false when it was shown before. */
  first(data: MessageRef): boolean {
    if (this.has(data)) return false;
    this.add(data);
    return true;
  }
}
