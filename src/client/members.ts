/**
 * Chats the server cannot read (protocol.md, `keyMode: "members"`): the member-made envelope, the
 * checks a client makes before it unwraps one, the rule for which pending epochs it commits, and
 * the commit itself. WebCrypto only (signing goes through the SignatureProvider seam).
 */

import type { Schema } from '../contract/index.js';
import { type Bytes, fromBase64, pemToDer, toBase64, utf8 } from './bytes.js';
import { memberEnvelopeSigningText, sortedNames } from './canonical.js';
import { CHAT_KEY_BYTES, type KeyEnvelope, WRAP_ALGORITHM } from './envelope.js';
import { ClientError, EnvelopeRefused } from './errors.js';
import { isSignatureAlgorithm, type SignatureAlgorithm } from './keys.js';
import type { KeyHandle, SignatureProvider } from './signatures.js';
import { escapeControls, shortId } from './text.js';
import type { UserKeys } from './user-keys.js';
import { isUsername } from './validate.js';

/** A members-mode envelope: wrapped and signed by the member who committed the epoch. */
export interface MemberKeyEnvelope {
  chatId: string;
  epoch: number;
  recipient: string;
  algorithm: typeof WRAP_ALGORITHM;
  wrappedKey: string;
  issuedAt: string;
  committer: string;
  members: string[];
  signatureAlgorithm: SignatureAlgorithm;
  signature: string;
}

/** Either shape: the server's (`keyMode: "server"`) or a member's. */
export type AnyKeyEnvelope = KeyEnvelope | MemberKeyEnvelope;

export const isMemberEnvelope = (e: unknown): e is MemberKeyEnvelope =>
  typeof e === 'object' && e !== null && Object.hasOwn(e, 'committer');

/** The same envelope, field for field (a replay of the one held, not another key for its epoch). */
export function sameMemberEnvelope(held: AnyKeyEnvelope, e: MemberKeyEnvelope): boolean {
  if (!isMemberEnvelope(held)) return false;
  const fields: (keyof MemberKeyEnvelope)[] = ['chatId', 'epoch', 'recipient', 'algorithm', 'wrappedKey'];
  fields.push('issuedAt', 'committer', 'signatureAlgorithm', 'signature');
  return fields.every((f) => held[f] === e[f]) && sameNames(held.members, e.members);
}

/** A members-mode chat's next epoch, as the chat object and `chat.rekey` carry it. */
export interface PendingEpoch {
  epoch: number;
  members: string[];
  added: string[];
  removed: string[];
  reason: string;
}

/** What one members-mode epoch changed, and the member who vouched for it by signing. */
export interface MemberChange {
  chatId: string;
  epoch: number;
  committer: string;
  members: string[];
  added: string[];
  removed: string[];
  /** The first epoch this client saw of the chat: `committer` added this user. */
  firstSeen: boolean;
}

const sameNames = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((u, i) => u === b[i]);
const names = (list: readonly string[]) => list.map((u) => escapeControls(u)).join(', ');

/**
 * The member-made fields, before any is used: names that are names, a member list sorted and
 * without repeats that holds this user and the committer, a scheme the protocol has.
 */
export function checkMemberEnvelope(e: MemberKeyEnvelope, username: string): void {
  const chat = shortId(String(e.chatId));
  const refuse = (why: string): never => {
    throw new EnvelopeRefused(`chat ${chat} epoch ${escapeControls(String(e.epoch))}: ${why}`);
  };
  if (e.algorithm !== WRAP_ALGORITHM) refuse('not wrapped with RSA-OAEP-SHA256');
  if (!isUsername(e.committer)) refuse('its committer is not a username');
  if (!Array.isArray(e.members) || !e.members.every(isUsername)) refuse('its member list is malformed');
  if (!sameNames(e.members, [...new Set(sortedNames(e.members))]))
    refuse('its member list is not sorted and unique');
  if (!isSignatureAlgorithm(e.signatureAlgorithm)) refuse('it names no signature scheme of the protocol');
  if (!fromBase64(e.signature)) refuse('its signature is not base64');
  if (typeof e.issuedAt !== 'string' || e.issuedAt.length > 64) refuse('its issuedAt is malformed');
  if (!e.members.includes(username)) refuse('its member list does not include you');
  if (!e.members.includes(e.committer))
    refuse(`it was committed by ${escapeControls(e.committer)}, who is not a member of it`);
}

/**
 * The committer was a member of the previous epoch in this client's own record (`previous`, a
 * verified envelope it kept), so a member who left, or someone who never was one, cannot make a
 * key. Returns the change of members; without a record it is the first epoch this client sees.
 */
export function checkCommitter(previous: AnyKeyEnvelope | undefined, e: MemberKeyEnvelope): MemberChange {
  const change = { chatId: e.chatId, epoch: e.epoch, committer: e.committer, members: e.members };
  if (!previous) return { ...change, added: [], removed: [], firstSeen: true };
  if (!isMemberEnvelope(previous))
    throw new EnvelopeRefused(`chat ${shortId(e.chatId)}: a member-made key follows a server-made one`);
  if (!previous.members.includes(e.committer))
    throw new EnvelopeRefused(
      `chat ${shortId(e.chatId)} epoch ${e.epoch}: committed by ${escapeControls(e.committer)}, who was not a member of epoch ${previous.epoch}`,
    );
  return {
    ...change,
    added: e.members.filter((u) => !previous.members.includes(u)),
    removed: previous.members.filter((u) => !e.members.includes(u)),
    firstSeen: false,
  };
}

export async function verifyMemberSignature(
  provider: SignatureProvider,
  committerKey: KeyHandle,
  e: MemberKeyEnvelope,
): Promise<boolean> {
  const signature = fromBase64(e.signature);
  if (!signature) return false;
  return provider.verify(e.signatureAlgorithm, committerKey, utf8(memberEnvelopeSigningText(e)), signature);
}

/** One line a person can read: "epoch 3: user3 added by user1", "user2 left". */
export function describeChange(c: MemberChange, me: string): string {
  const by = escapeControls(c.committer);
  if (c.firstSeen)
    return c.committer === me
      ? `epoch ${c.epoch}: key made by you for ${names(c.members)}`
      : `epoch ${c.epoch}: you were added by ${by} (members: ${names(c.members)})`;
  const parts = [
    ...(c.added.length > 0 ? [`${names(c.added)} added by ${by}`] : []),
    ...(c.removed.length > 0 ? [`${names(c.removed)} left (new key made by ${by})`] : []),
  ];
  return `epoch ${c.epoch}: ${parts.length > 0 ? parts.join('; ') : `new key made by ${by}, same members`}`;
}

/** What inviting again after a removal or rotation dropped an invitation came to: its answer, or why it failed. */
export type InvitedAgain = { unavailable: Schema<'Unavailable'>; error?: undefined } | { error: Error };

/** One line a person can read of an invitation made again (protocol.md, "Pending epochs"). */
export function describeInvitedAgain(invitees: readonly string[], outcome: InvitedAgain): string {
  const why = 'a leave or key rotation dropped the invitation';
  if (outcome.error)
    return `could not invite ${names(invitees)} again (${why}): ${escapeControls(outcome.error.message)}`;
  // an offline invitee is invited all the same (protocol.md, `POST /chats`); an unknown one is not
  const missed = outcome.unavailable.filter((u) => u.reason === 'unknown').map((u) => u.username);
  const invited = invitees.filter((u) => !missed.includes(u));
  return [
    ...(invited.length > 0 ? [`invited ${names(invited)} again (${why})`] : []),
    ...(missed.length > 0 ? [`${names(missed)} not invited again: no such user`] : []),
  ].join('; ');
}

/**
 * protocol.md: a client commits a pending epoch only if every member it adds is one this user
 * asked to invite; an epoch that only removes members or rotates may be committed by any joined
 * member. The list must also be exactly the previous epoch's (this client's own record) with
 * those changes, so that no one rides in unnamed. Returns why not to commit, or undefined.
 */
export function commitRefusal(
  p: PendingEpoch,
  me: string,
  previous: readonly string[] | undefined,
  asked: ReadonlySet<string>,
): string | undefined {
  if (!p.members.includes(me)) return 'you are not in its member list';
  const unasked = p.added.filter((u) => !asked.has(u));
  if (unasked.length > 0) return `it adds ${names(unasked)}, whom you did not invite`;
  if (previous === undefined) return p.epoch === 1 ? undefined : 'no verified record of the previous epoch';
  if (p.added.some((u) => previous.includes(u)) || p.removed.some((u) => !previous.includes(u)))
    return 'its changes do not match your record of the members';
  const expected = sortedNames([...previous.filter((u) => !p.removed.includes(u)), ...p.added]);
  if (!sameNames(expected, sortedNames(p.members)))
    return `its member list (${names(p.members)}) is not your record with its changes (${names(expected)})`;
  return undefined;
}

/** RSA-OAEP-SHA256 (MGF1-SHA-256, empty label) of the chat key for one member's SPKI PEM key. */
export async function wrapChatKey(encryptionPem: string, chatKey: Bytes): Promise<string> {
  const der = pemToDer(encryptionPem, 'PUBLIC KEY');
  if (!der) throw new ClientError('an encryption key is not a PEM public key');
  const key = await globalThis.crypto.subtle.importKey(
    'spki',
    der,
    { name: 'RSA-OAEP', hash: 'SHA-256' },
    false,
    ['encrypt'],
  );
  return toBase64(new Uint8Array(await globalThis.crypto.subtle.encrypt({ name: 'RSA-OAEP' }, key, chatKey)));
}

export interface CommitBody {
  epoch: number;
  members: string[];
  issuedAt: string;
  envelopes: {
    recipient: string;
    wrappedKey: string;
    signatureAlgorithm: SignatureAlgorithm;
    signature: string;
  }[];
}

/**
 * The body of `POST /chats/{chatId}/epochs`: a fresh 32-byte key wrapped for every member (with
 * the encryption key `wrapFor` gives, pinned) and each wrapped key signed. The raw key is wiped.
 */
export async function buildCommit(
  provider: SignatureProvider,
  input: {
    chatId: string;
    epoch: number;
    members: string[];
    committer: string;
    alg: SignatureAlgorithm;
    signingKey: KeyHandle;
    wrapFor: (username: string) => Promise<string>;
  },
): Promise<CommitBody> {
  const chatKey = globalThis.crypto.getRandomValues(new Uint8Array(CHAT_KEY_BYTES));
  const members = sortedNames(input.members);
  const issuedAt = new Date().toISOString();
  try {
    const envelopes = await Promise.all(
      members.map(async (recipient) => {
        const wrappedKey = await wrapChatKey(await input.wrapFor(recipient), chatKey);
        const text = memberEnvelopeSigningText({ ...input, recipient, wrappedKey, issuedAt, members });
        const signature = await provider.sign(input.alg, input.signingKey, utf8(text));
        return { recipient, wrappedKey, signatureAlgorithm: input.alg, signature: toBase64(signature) };
      }),
    );
    return { epoch: input.epoch, members, issuedAt, envelopes };
  } finally {
    chatKey.fill(0);
  }
}

/** The scheme a commit is signed with: the user's choice if it has that key; else the first of Ed25519, RSA-PSS, DSA it has. */
export function commitScheme(keys: UserKeys, chosen: SignatureAlgorithm | undefined): SignatureAlgorithm {
  if (chosen && keys.signing[chosen] !== undefined) return chosen;
  const alg = (['ed25519', 'rsa-pss-sha256', 'dsa-sha256'] as const).find(
    (a) => keys.signing[a] !== undefined,
  );
  if (!alg) throw new ClientError('this client has no signing key to commit a key with');
  return alg;
}
