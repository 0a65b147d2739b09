import { parseTimestamp } from '../crypto/time.js';
import { blocksPosting } from '../store/chat-types.js';
import type { Store } from '../store/types.js';
import type { UserRecord } from '../store/user-types.js';
import type { Chats } from './chats.js';
import type { KeyRewrapper } from './key-escrow.js';

export interface KeyChangeEpochsDeps {
  store: Store;
  chats: Chats;
  rewrap: KeyRewrapper;
  onError?: (error: unknown, fields: Record<string, unknown>) => void;
  /** How long after a change the jobs leave its chats to the request that made it. */
  settleMs?: number;
}

const SETTLE_MS = 30_000;

/**
 * After a user's keys changed (protocol.md, "What a key change does to chats"): every chat of the
 * user gets a new epoch, and in server mode the user's earlier epochs are wrapped for the new key.
 * `replaceKeys` marks the user (`rekey_pending`) in the change's own transaction; the mark goes
 * only once every chat has its epoch, so a chat whose rekey failed (the store away, an instance
 * stopped mid-way) is retried by the jobs instead of staying on an epoch the old keys open.
 */
export function keyChangeEpochs({
  store,
  chats,
  rewrap,
  onError = () => {},
  settleMs = SETTLE_MS,
}: KeyChangeEpochsDeps) {
  /**
   * Whether the chat already has an epoch made for the user's keys of the change at `changedAt`:
   * the user's envelope of its current epoch was issued since (server mode), or an epoch that
   * stops posting waits for a member's commit, which wraps for the keys then current (members).
   */
  async function rekeyedSince(chatId: string, username: string, changedAt: number): Promise<boolean> {
    const chat = await store.getChat(chatId);
    if (!chat?.members.some((m) => m.username === username)) return true;
    if (chat.keyMode === 'members' && blocksPosting(chat.pending)) return true;
    const envelope = chat.epoch > 0 ? await store.getEnvelope(chatId, chat.epoch, username) : undefined;
    const issued = envelope ? parseTimestamp(envelope.issuedAt) : undefined;
    return issued !== undefined && issued > changedAt;
  }

  /** Server mode: every epoch before the current one that `username` may read, wrapped for their key now. */
  async function rewrapHistory(chatId: string, username: string): Promise<void> {
    const chat = await store.getChat(chatId);
    const member = chat?.members.find((m) => m.username === username);
    if (!chat || !member || chat.keyMode === 'members') return;
    const earlier: number[] = [];
    for (let e = member.sinceEpoch; e < chat.epoch; e++) earlier.push(e);
    await rewrap(chatId, earlier, username);
  }

  /**
   * A new epoch in every chat of `user` (as stored after the change); `all`: without asking first
   * whether a chat already has one (the change just made). Whether every chat has its epoch now.
   */
  async function rekeyChats(user: UserRecord, all: boolean): Promise<boolean> {
    const { username } = user;
    const changedAt = parseTimestamp(user.keyChanges?.at(-1)?.at ?? '') ?? 0;
    let done = true;
    for (const chatId of await store.chatIdsOf(username)) {
      try {
        if (!all && (await rekeyedSince(chatId, username, changedAt))) {
          // the new epoch is there, but the history's re-wrap may be what failed: it is done again
          // (wrapping the same keys for the same key once more changes nothing)
          await rewrapHistory(chatId, username);
          continue;
        }
        const rekeyed = await chats.rekey(chatId, username);
        if (rekeyed?.keyMode === 'server') await rewrap(chatId, rekeyed.earlier, username);
      } catch (error) {
        done = false;
        onError(error, { chatId, username });
      }
    }
    if (done) await store.rekeyDone(username, user.keys);
    return done;
  }

  return {
    /** Right after a key change: a new epoch in every chat of the user. */
    afterChange: (user: UserRecord) => rekeyChats(user, true),

    /** The jobs (at `now`): the chats a key change left without their new epoch get it. The users done. */
    async completeRekeys(now = Date.now()): Promise<string[]> {
      const done: string[] = [];
      for (const username of await store.pendingRekeys()) {
        const user = await store.getUser(username);
        if (!user || user.removedAt) {
          // a removed user leaves every chat (its own new epochs): nothing to make here
          if (user) await store.rekeyDone(username, user.keys);
          continue;
        }
        // a change this recent still has its own request making its epochs
        const changedAt = parseTimestamp(user.keyChanges?.at(-1)?.at ?? '') ?? 0;
        if (now - changedAt < settleMs) continue;
        if (await rekeyChats(user, false)) done.push(username);
      }
      return done;
    },
  };
}

export type KeyChangeEpochs = ReturnType<typeof keyChangeEpochs>;
