import { sortedNames } from '../client/canonical.js';
import { Errors } from '../errors.js';
import { addsOnly, type ChatRecord, type PendingEpoch, type PendingReason } from '../store/chat-types.js';
import type { NewEvent } from '../store/message-types.js';
import { chatEvent } from './events.js';

/**
 * Members-mode chats (protocol.md, "Chats the server cannot read"): every change that would
 * rotate the key makes a pending epoch instead, which a member's client commits. These are the
 * pure steps; the chats and epochs services store them.
 */

/** What the wire shows of a pending epoch (who asked and since when stay on the server). */
export interface PendingView {
  epoch: number;
  members: string[];
  added: string[];
  removed: string[];
  reason: PendingReason;
}

export const pendingView = (p: PendingEpoch | null | undefined): PendingView | null =>
  p ? { epoch: p.epoch, members: p.members, added: p.added, removed: p.removed, reason: p.reason } : null;

export const isMembersMode = (chat: ChatRecord): boolean => chat.keyMode === 'members';

/** The next epoch of `chat` with `added` and without `removed`; additions wait from `now`. */
export function nextPending(
  chat: ChatRecord,
  change: { added?: string[]; removed?: string[]; reason: PendingReason; requestedBy?: string; now: string },
): PendingEpoch {
  const added = sortedNames(change.added ?? []);
  const removed = sortedNames(change.removed ?? []);
  const members = sortedNames([
    ...chat.members.map((m) => m.username).filter((u) => !removed.includes(u)),
    ...added,
  ]);
  return {
    epoch: chat.epoch + 1,
    members,
    added,
    removed,
    reason: change.reason,
    ...(change.requestedBy !== undefined && { requestedBy: change.requestedBy }),
    ...(added.length > 0 && { additionsSince: change.now }),
  };
}

/** The pending epoch after `username` left: they leave its list too (a leave joins what waits). */
export function withoutMember(p: PendingEpoch, username: string): PendingEpoch {
  const wasAdded = p.added.includes(username);
  const added = p.added.filter((u) => u !== username);
  const { additionsSince, ...rest } = p;
  return {
    ...rest,
    members: p.members.filter((u) => u !== username),
    added,
    removed: wasAdded ? p.removed : sortedNames([...p.removed, username]),
    ...(added.length > 0 && additionsSince !== undefined && { additionsSince }),
  };
}

/**
 * The pending epoch once its uncommitted additions are dropped: nothing, when only they waited
 * (the member list is as before); the removals alone, when a leave joined them; the creator
 * alone, for a chat whose first epoch was never committed (so that it still gets a key).
 */
export function withoutAdditions(chat: ChatRecord, p: PendingEpoch): PendingEpoch | null {
  const { additionsSince: _dropped, requestedBy: _by, ...rest } = p;
  const members = p.members.filter((u) => !p.added.includes(u));
  if (chat.epoch === 0) return { ...rest, members, added: [], reason: 'create' };
  if (p.removed.length === 0 && (p.reason === 'create' || p.reason === 'invite')) return null;
  return { ...rest, members, added: [], reason: p.removed.length > 0 ? 'leave' : p.reason };
}

/**
 * Why an invitation waits (409 REKEY_PENDING): a pending epoch holds one inviter's additions, the
 * only ones that inviter's client commits, so it holds one invitation at a time (a member's
 * second one included); nor is anyone added while a removal or rotation waits.
 */
export function invitationWaits(p: PendingEpoch, inviter: string): Error {
  const what = !addsOnly(p)
    ? 'A new epoch of this chat waits for a member to commit its key'
    : p.requestedBy === inviter
      ? 'Your invitation waits for your client to commit its key'
      : "Another member's invitation waits for their client to commit its key";
  return new Errors.REKEY_PENDING(`${what}; invite again once it is committed or dropped.`);
}

/** Joined members of the chat who are in `list`: those whose clients may commit. */
export const joinedIn = (chat: ChatRecord, list: string[]): string[] =>
  chat.members.filter((m) => m.state === 'joined' && list.includes(m.username)).map((m) => m.username);

/** `chat.rekey`, one addressed event per joined member of the new list. */
export const rekeyEvents = (chat: ChatRecord, next: PendingEpoch | null, fallback: string[]): NewEvent[] =>
  joinedIn(chat, next?.members ?? fallback).map((u) =>
    chatEvent('chat.rekey', { chatId: chat.id, pending: pendingView(next) }, [u]),
  );
