/**
 * Shape checks of everything that comes from the server, made before any use: a value of the wrong
 * type (an array where a name is expected, a string where an epoch is) would otherwise slip through
 * a Map lookup, be stringified into a pin or joined into an AAD. Pure functions, no Node imports.
 */
import { isBase64 } from './bytes.js';
import { ClientError } from './errors.js';

/** The username grammar of the protocol (openapi `Username`). */
export const USERNAME = /^[a-z0-9][a-z0-9_.-]{0,31}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SHORT = 40;

/** Data from the server that does not have the documented shape. Its message is one line. */
export class MalformedError extends ClientError {
  constructor(what: string) {
    super(`malformed: ${what}`);
    this.name = 'MalformedError';
  }
}

/** What a bad value was, for the refusal: its JSON, cut short (escaped again when printed). */
function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = typeof value;
  }
  return text.length > SHORT ? `${text.slice(0, SHORT)}…` : text;
}

const fail = (field: string, value: unknown, what: string): never => {
  throw new MalformedError(`${field} ${shown(value)} is not ${what}`);
};

export const isUsername = (value: unknown): value is string =>
  typeof value === 'string' && USERNAME.test(value);

export function checkUsername(value: unknown, field: string): string {
  return isUsername(value) ? value : fail(field, value, 'a username');
}

function uuid(value: unknown, field: string): string {
  return typeof value === 'string' && UUID.test(value) ? value : fail(field, value, 'an id');
}

function integer(value: unknown, field: string, min = 0): number {
  return Number.isSafeInteger(value) && (value as number) >= min
    ? (value as number)
    : fail(field, value, `an integer ≥ ${min}`);
}

function epoch(value: unknown, field: string): number {
  return integer(value, field, 1);
}

function string(value: unknown, field: string, max = 1024): string {
  return typeof value === 'string' && value.length <= max ? value : fail(field, value, 'a string');
}

function base64(value: unknown, field: string): string {
  return typeof value === 'string' && isBase64(value) ? value : fail(field, value, 'base64');
}

function object(value: unknown, field: string): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : fail(field, value, 'an object');
}

function array(value: unknown, field: string): unknown[] {
  return Array.isArray(value) ? value : fail(field, value, 'a list');
}

/** A message as `GET /chats/{id}/messages` and the `message` event carry it. */
export function checkMessage(value: unknown): void {
  const d = object(value, 'message');
  uuid(d.chatId, 'chatId');
  integer(d.seq, 'seq', 1);
  checkUsername(d.sender, 'sender');
  string(d.receivedAt, 'receivedAt', 64);
  const m = object(d.message, 'message');
  uuid(m.id, 'message.id');
  epoch(m.epoch, 'message.epoch');
  string(m.sentAt, 'message.sentAt', 64);
  for (const f of ['iv', 'ciphertext', 'tag', 'signature']) base64(m[f], `message.${f}`);
  string(m.signatureAlgorithm, 'message.signatureAlgorithm', 64);
  if (m.device !== undefined || m.counter !== undefined || m.prev !== undefined) checkTranscript(m);
}

const DEVICE = /^[A-Za-z0-9_-]{21}[AQgw]$/;
const HASH = /^[0-9a-f]{64}$/;

/** A version-2 message's three fields (protocol.md, "Transcript integrity"): all of them, shaped. */
function checkTranscript(m: Record<string, unknown>): void {
  if (typeof m.device !== 'string' || !DEVICE.test(m.device)) fail('message.device', m.device, 'a device id');
  integer(m.counter, 'message.counter', 1);
  if (m.prev === null) return;
  const prev = object(m.prev, 'message.prev');
  integer(prev.seq, 'message.prev.seq', 1);
  if (typeof prev.hash !== 'string' || !HASH.test(prev.hash)) fail('message.prev.hash', prev.hash, 'a hash');
}

/** A key envelope: its fields before the signature over them is checked. */
export function checkEnvelope(value: unknown): void {
  const e = object(value, 'keyEnvelope');
  uuid(e.chatId, 'keyEnvelope.chatId');
  epoch(e.epoch, 'keyEnvelope.epoch');
  checkUsername(e.recipient, 'keyEnvelope.recipient');
  base64(e.wrappedKey, 'keyEnvelope.wrappedKey');
}

function names(value: unknown, field: string): string[] {
  return array(value, field).map((u) => checkUsername(u, `${field}[]`));
}

/** A members-mode chat's pending epoch (`chat.pending`, `chat.rekey`), or null. */
export function checkPending(value: unknown, field = 'pending'): void {
  if (value === null) return;
  const p = object(value, field);
  epoch(p.epoch, `${field}.epoch`);
  for (const list of ['members', 'added', 'removed']) names(p[list], `${field}.${list}`);
  string(p.reason, `${field}.reason`, 32);
}

/** A chat object (`{id, epoch, createdBy, createdAt, members, keyMode, pending?}`), in any answer or event. */
export function checkChat(value: unknown, field = 'chat'): void {
  const c = object(value, field);
  uuid(c.id, `${field}.id`);
  // absent (a server of the previous release): server mode, as it was
  if (c.keyMode !== undefined && c.keyMode !== 'server' && c.keyMode !== 'members')
    fail(`${field}.keyMode`, c.keyMode, 'server or members');
  // a members-mode chat is at epoch 0 until its first epoch is committed
  integer(c.epoch, `${field}.epoch`, c.keyMode === 'members' ? 0 : 1);
  if (c.keyMode === 'members') checkPending(c.pending ?? null, `${field}.pending`);
  checkUsername(c.createdBy, `${field}.createdBy`);
  string(c.createdAt, `${field}.createdAt`, 64);
  for (const m of array(c.members, `${field}.members`)) {
    const member = object(m, `${field}.members[]`);
    checkUsername(member.username, `${field}.members[].username`);
    if (member.state !== 'invited' && member.state !== 'joined')
      fail(`${field}.members[].state`, member.state, 'invited or joined');
  }
}

/** `unavailable: [{username, reason}]` of `POST /chats` and invite. */
export function checkUnavailable(value: unknown): void {
  for (const u of array(value, 'unavailable')) {
    const item = object(u, 'unavailable[]');
    checkUsername(item.username, 'unavailable[].username');
    if (item.reason !== 'offline' && item.reason !== 'unknown')
      fail('unavailable[].reason', item.reason, 'offline or unknown');
  }
}

/** The data of each event type the client uses; an unknown type is ignored, so not checked. */
export function checkEvent(type: string, data: unknown): void {
  switch (type) {
    case 'presence': {
      const d = object(data, 'data');
      checkUsername(d.username, 'username');
      if (typeof d.online !== 'boolean') fail('online', d.online, 'true or false');
      return;
    }
    case 'chat.invited': {
      const d = object(data, 'data');
      checkChat(d.chat);
      checkEnvelope(d.keyEnvelope);
      checkUsername(d.invitedBy, 'invitedBy');
      return;
    }
    case 'chat.created': {
      const d = object(data, 'data');
      checkChat(d.chat);
      // members mode: no key until the creator's client commits epoch 1
      if (!(d.keyEnvelope === null && object(d.chat, 'chat').keyMode === 'members'))
        checkEnvelope(d.keyEnvelope);
      return;
    }
    case 'chat.key': {
      const d = object(data, 'data');
      uuid(d.chatId, 'chatId');
      checkEnvelope(d.keyEnvelope);
      return;
    }
    case 'chat.rekey': {
      const d = object(data, 'data');
      uuid(d.chatId, 'chatId');
      checkPending(d.pending);
      return;
    }
    case 'member.joined':
    case 'member.left': {
      const d = object(data, 'data');
      uuid(d.chatId, 'chatId');
      checkUsername(d.username, 'username');
      return;
    }
    case 'message':
      checkMessage(data);
      return;
    case 'account.keys': {
      const d = object(data, 'data');
      checkUsername(d.username, 'username');
      object(d.fingerprints, 'fingerprints');
      object(d.change, 'change');
      return;
    }
  }
}
