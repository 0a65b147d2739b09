import type { ChatRecord } from '../store/chat-types.js';
import type { Accounts } from './accounts.js';
import type { Presence } from './presence.js';

/** Up to this many distinct users, presence is asked per user; beyond, once for everyone online. */
const FEW_USERS = 64;

/** An invitee reported to the requester: offline (invited all the same) or unknown (not added). */
export interface Unavailable {
  username: string;
  reason: 'offline' | 'unknown';
}

export type OnlineAmong = (usernames: Iterable<string>) => Promise<Set<string>>;

/**
 * Which of `usernames` are online, each asked once however many chats name them: a few one by
 * one (in parallel), many with one question for everyone online.
 */
export function onlineLookup(presence: Presence): OnlineAmong {
  return async function onlineAmong(usernames: Iterable<string>): Promise<Set<string>> {
    const unique = [...new Set(usernames)];
    if (unique.length > FEW_USERS) return new Set(await presence.onlineUsers());
    const online = await Promise.all(unique.map((u) => presence.isOnline(u)));
    return new Set(unique.filter((_, i) => online[i]));
  };
}

export const membersOf = (chats: ChatRecord[]) => chats.flatMap((c) => c.members.map((m) => m.username));

/**
 * Invitees sorted (protocol.md, `POST /chats`): every registered one is `available` (added, online
 * or not; they find the invitation when they connect); the requester is told of the offline ones
 * (`unavailable` with reason `offline`, added all the same) and the unknown ones (not added).
 */
export function inviteeClassifier(onlineAmong: OnlineAmong, accounts: Accounts) {
  return async function classify(invitees: string[]) {
    const available: string[] = [];
    const unavailable: Unavailable[] = [];
    const onlineNow = await onlineAmong(invitees);
    for (const username of invitees) {
      if (!(await accounts.active(username))) {
        unavailable.push({ username, reason: 'unknown' });
        continue;
      }
      if (!onlineNow.has(username)) unavailable.push({ username, reason: 'offline' });
      available.push(username);
    }
    return { available, unavailable };
  };
}

export type Classify = ReturnType<typeof inviteeClassifier>;
