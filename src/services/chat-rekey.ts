import { blocksPosting } from '../store/chat-types.js';
import type { Store } from '../store/types.js';
import { type Commit, changeOf } from './chat-change.js';
import type { WithRetry } from './chat-retry.js';
import type { EnvelopeIssuer } from './envelopes.js';
import { keyEvents } from './events.js';
import type { MembersMode } from './members-mode.js';
import { isMembersMode } from './pending.js';

export interface ChatRekeyDeps {
  store: Store;
  issueEnvelopes: EnvelopeIssuer;
  commit: Commit;
  membersMode: MembersMode;
  withRetry: WithRetry;
}

/** What a new epoch after a member's key change left: the epochs before it that member may read. */
export interface Rekeyed {
  keyMode: 'server' | 'members';
  /** Server mode: the epochs from the member's first to the one before the new epoch. */
  earlier: number[];
}

/**
 * After a member's keys changed (protocol.md, "What a key change does to chats"): a new epoch at
 * once, from whatever epoch the chat is at. In server mode its envelopes are made now (with the
 * member's new encryption key); in members mode it is pending until a member's client commits
 * it, unless an epoch that stops posting already waits (its commit wraps for the new key).
 */
export function chatRekey({ store, issueEnvelopes, commit, membersMode, withRetry }: ChatRekeyDeps) {
  return function rekey(chatId: string, username: string): Promise<Rekeyed | undefined> {
    return withRetry(chatId, async () => {
      const chat = await store.getChat(chatId);
      const member = chat?.members.find((m) => m.username === username);
      if (!chat || !member) return undefined;
      if (isMembersMode(chat)) {
        if (!blocksPosting(chat.pending)) await membersMode.propose(chat, { reason: 'messages' });
        return { keyMode: 'members', earlier: [] };
      }
      const epoch = chat.epoch + 1;
      const members = chat.members.map((m) => m.username);
      const envelopes = await issueEnvelopes(chat.id, epoch, members);
      await commit(
        changeOf(chat, {
          epoch,
          envelopes: [...envelopes.values()],
          events: keyEvents(chat.id, envelopes, members),
        }),
        [['key.rotated', { chatId: chat.id, epoch, reason: 'keys', of: username }]],
      );
      const earlier: number[] = [];
      for (let e = member.sinceEpoch; e < epoch; e++) earlier.push(e);
      return { keyMode: 'server', earlier };
    });
  };
}
