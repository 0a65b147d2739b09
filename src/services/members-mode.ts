import { randomUUID } from 'node:crypto';
import { timestamp } from '../crypto/time.js';
import { addsOnly, type ChatRecord, type PendingEpoch } from '../store/chat-types.js';
import { type Audit, type Commit, changeOf } from './chat-change.js';
import type { ChatView } from './chat-view.js';
import { chatEvent } from './events.js';
import { nextPending, rekeyEvents, withoutMember } from './pending.js';

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
      // every session of the creator lists it; the key comes with the commit (`chat.key`)
      const created = chatEvent('chat.created', { chat: chatView, keyEnvelope: null }, [creator]);
      const events = [created, ...rekeyEvents(chat, chat.pending, [])];
      await commit({ create: chat, envelopes: [], events }, [
        ['chat.created', { chatId: chat.id, by: creator, proposed: available, keyMode: 'members' }],
      ]);
      return chatView;
    },

    /**
     * Records the next epoch (with `added`, or the same members for a rotation) as pending. An
     * invitation comes only when nothing waits; a rotation may come while additions wait, and
     * replaces them (the inviter's client invites again once the rotation is committed).
     */
    async propose(
      chat: ChatRecord,
      change: { added?: string[]; inviter?: string; reason?: 'messages' | 'age' },
    ): Promise<ChatView> {
      const before = chat.pending ?? null;
      const next = nextPending(chat, {
        added: change.added,
        reason: change.reason ?? 'invite',
        requestedBy: change.inviter,
        now: timestamp(),
      });
      const chatView = await view({ ...chat, pending: next });
      await commit(
        changeOf(chat, { events: rekeyEvents(chat, next, []), pending: { expected: before, next } }),
        [
          ...dropped(chat, before, next.reason),
          ['key.pending', { chatId: chat.id, epoch: next.epoch, reason: next.reason, added: next.added }],
        ],
      );
      return chatView;
    },

    /**
     * The member leaves now; the remaining members' next epoch waits for a commit. A leave while
     * a removal or rotation waits joins it; one while additions wait replaces them, so that the
     * removal never waits for an addition only its inviter can commit.
     */
    async leave(chat: ChatRecord, username: string): Promise<void> {
      const remaining = chat.members.filter((m) => m.username !== username);
      const before = chat.pending ?? null;
      const next =
        remaining.length === 0
          ? null
          : before && !addsOnly(before)
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
          ...dropped(chat, before, 'leave'),
          ...(next
            ? [['key.pending', { chatId: chat.id, epoch: next.epoch, reason: next.reason }] as const]
            : []),
        ],
      );
    },
  };
}

/** The audit record of additions that `before` held and a removal or rotation (`by`) dropped. */
function dropped(chat: ChatRecord, before: PendingEpoch | null, by: string): Audit[] {
  if (!before || !addsOnly(before)) return [];
  const fields = { chatId: chat.id, epoch: before.epoch, dropped: before.added, inviter: before.requestedBy };
  return [['key.pending.dropped', { ...fields, by }]];
}

export type MembersMode = ReturnType<typeof createMembersMode>;
