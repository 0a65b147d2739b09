import { randomUUID } from 'node:crypto';
import { timestamp } from '../crypto/time.js';
import type { ChatRecord } from '../store/types.js';
import { type Commit, changeOf } from './chat-change.js';
import type { ChatView } from './chats.js';
import { chatEvent, nextPending, rekeyEvents, withoutMember } from './pending.js';

export interface MembersModeDeps {
  view: (chat: ChatRecord) => Promise<ChatView>;
  commit: Commit;
}

/**
 * The changes of a members-mode chat (protocol.md, "Chats the server cannot read"): the server
 * issues no key; each change records the next epoch as pending and asks the joined members of
 * its list, with `chat.rekey`, to commit it (services/epochs.ts takes the commit).
 */
export function createMembersMode({ view, commit }: MembersModeDeps) {
  return {
    /** A new chat whose first epoch (creator and `available` invitees) waits for the creator's commit. */
    async create(creator: string, available: string[]): Promise<ChatView> {
      const now = timestamp();
      const chat: ChatRecord = {
        id: randomUUID(),
        epoch: 0,
        createdBy: creator,
        createdAt: now,
        members: [{ username: creator, state: 'joined', sinceEpoch: 1 }],
        keyMode: 'members',
      };
      chat.pending = nextPending(chat, { added: available, reason: 'create', requestedBy: creator, now });
      const chatView = await view(chat);
      await commit({ create: chat, envelopes: [], events: rekeyEvents(chat, chat.pending, []) }, [
        ['chat.created', { chatId: chat.id, by: creator, proposed: available, keyMode: 'members' }],
      ]);
      return chatView;
    },

    /** Records the next epoch (with `added`, or the same members for a rotation) as pending. */
    async propose(
      chat: ChatRecord,
      change: { added?: string[]; inviter?: string; reason?: 'messages' | 'age' },
    ): Promise<ChatView> {
      const next = nextPending(chat, {
        added: change.added,
        reason: change.reason ?? 'invite',
        requestedBy: change.inviter,
        now: timestamp(),
      });
      const chatView = await view({ ...chat, pending: next });
      await commit(
        changeOf(chat, { events: rekeyEvents(chat, next, []), pending: { expected: null, next } }),
        [['key.pending', { chatId: chat.id, epoch: next.epoch, reason: next.reason, added: next.added }]],
      );
      return chatView;
    },

    /** The member leaves now; the remaining members' next epoch waits for a commit. */
    async leave(chat: ChatRecord, username: string): Promise<void> {
      const remaining = chat.members.filter((m) => m.username !== username);
      const before = chat.pending ?? null;
      const next =
        remaining.length === 0
          ? null
          : before
            ? withoutMember(before, username)
            : nextPending(chat, { removed: [username], reason: 'leave', now: timestamp() });
      const after = { ...chat, members: remaining };
      await commit(
        changeOf(chat, {
          remove: [username],
          events: [
            chatEvent('member.left', { chatId: chat.id, username }, [
              ...remaining.map((m) => m.username),
              username,
            ]),
            ...rekeyEvents(after, next, []),
          ],
          pending: { expected: before, next },
        }),
        [
          ['member.left', { chatId: chat.id, username }],
          ...(next
            ? [['key.pending', { chatId: chat.id, epoch: next.epoch, reason: next.reason }] as const]
            : []),
        ],
      );
    },
  };
}

export type MembersMode = ReturnType<typeof createMembersMode>;
