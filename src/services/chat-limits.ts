import { localCounter } from '../bus/memory-counters.js';
import type { SharedCounter } from '../bus/types.js';
import { Errors, isOutage, rateLimited } from '../errors.js';
import type { Store } from '../store/types.js';

export interface ChatLimits {
  /** Chats one user may create per minute. */
  createPerMinute: number;
  /** Invitations and leaves one user may make per minute (each re-signs every member's key). */
  membershipPerMinute: number;
  /** Chats one user may be a member of; creating one more is refused. */
  maxChatsPerUser: number;
}

/**
 * What one user may do to chats: creations and membership changes charged per minute (429 when
 * over), and the caps of a chat's members and of the chats one user has joined.
 */
export function chatLimits(store: Store, maxMembers: number, limits: ChatLimits) {
  // Per process, as posting is: a leave must not wait for Redis to count it.
  const creations = localCounter('chat-creations', limits.createPerMinute, 60_000);
  const membershipChanges = localCounter('membership-changes', limits.membershipPerMinute, 60_000);
  const checkSize = (members: number) => {
    if (members > maxMembers) throw new Errors.CHAT_FULL(`A chat has at most ${maxMembers} members.`);
  };

  /**
   * SECURECHAT_MAX_CHATS caps the chats a user has joined: invitations do not count (others make
   * them), so creating or joining one more is what is refused.
   */
  async function checkRoomFor(username: string): Promise<void> {
    if ((await store.countJoinedChats(username)) >= limits.maxChatsPerUser) {
      throw new Errors.TOO_MANY_CHATS(
        `You have joined ${limits.maxChatsPerUser} chats, the most allowed; leave one first.`,
      );
    }
  }

  return { creations, membershipChanges, checkSize, checkRoomFor };
}

export type ChatLimiter = ReturnType<typeof chatLimits>;

/** Counts one operation of `username` against `counter`, or answers 429 when over it. */
async function charge(counter: SharedCounter, username: string, what: string): Promise<void> {
  const wait = await counter.blockedFor(username);
  if (wait > 0) throw rateLimited(`Too many ${what}; try again in ${Math.ceil(wait)} s.`, wait);
  await counter.hit(username);
}

/**
 * `work`, counted against `counter` (429 when over it); an outage (503: the presence in Redis,
 * the database) gives the count back, since nothing was done.
 */
export async function charged<T>(
  counter: SharedCounter,
  username: string,
  what: string,
  work: () => Promise<T>,
) {
  await charge(counter, username, what);
  try {
    return await work();
  } catch (error) {
    if (isOutage(error)) await counter.give(username);
    throw error;
  }
}
