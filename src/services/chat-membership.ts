import { Errors } from '../errors.js';
import type { ChatRecord, MemberRecord } from '../store/chat-types.js';
import type { Store } from '../store/types.js';
import { type Commit, changeOf } from './chat-change.js';
import { type ChatLimiter, charged } from './chat-limits.js';
import { currentEnvelope, memberChat } from './chat-reads.js';
import type { WithRetry } from './chat-retry.js';
import type { View } from './chat-view.js';
import type { EnvelopeIssuer } from './envelopes.js';
import { chatEvent, keyEvents } from './events.js';
import type { MembersMode } from './members-mode.js';
import type { Classify } from './online.js';
import { invitationWaits, isMembersMode } from './pending.js';

export interface ChatMembershipDeps {
  store: Store;
  issueEnvelopes: EnvelopeIssuer;
  view: View;
  classify: Classify;
  commit: Commit;
  membersMode: MembersMode;
  limiter: ChatLimiter;
  withRetry: WithRetry;
}

/**
 * Invitations, joins and leaves. In server mode an invitation or a leave makes a new epoch with
 * every member's envelope; in members mode it records a pending epoch (members-mode.ts).
 */
export function chatMembership({
  store,
  issueEnvelopes,
  view,
  classify,
  commit,
  membersMode,
  limiter,
  withRetry,
}: ChatMembershipDeps) {
  const { membershipChanges, checkRoomFor, checkSize } = limiter;
  return {
    async invite(chatId: string, inviter: string, invitees: string[]) {
      return charged(membershipChanges, inviter, 'invitations and leaves', () =>
        withRetry(chatId, async () => {
          const { chat, member } = await memberChat(store, chatId, inviter);
          if (member.state !== 'joined') throw new Errors.NOT_JOINED('Join the chat before inviting others.');
          const already = invitees.filter((u) => chat.members.some((m) => m.username === u));
          if (already.length > 0) throw new Errors.ALREADY_MEMBER(`Already members: ${already.join(', ')}.`);
          if (chat.pending) throw invitationWaits(chat.pending, inviter);
          const { available, unavailable } = await classify(invitees);
          if (available.length === 0) return { chat: await view(chat), unavailable };
          checkSize(chat.members.length + available.length);
          if (isMembersMode(chat))
            return { chat: await membersMode.propose(chat, { added: available, inviter }), unavailable };

          const epoch = chat.epoch + 1;
          const added = available.map(
            (username): MemberRecord => ({ username, state: 'invited', sinceEpoch: epoch }),
          );
          const next: ChatRecord = { ...chat, epoch, members: [...chat.members, ...added] };
          const envelopes = await issueEnvelopes(
            chat.id,
            epoch,
            next.members.map((m) => m.username),
          );
          const chatView = await view(next);
          const events = [
            ...keyEvents(
              chat.id,
              envelopes,
              chat.members.map((m) => m.username),
            ),
            ...available.map((u) =>
              chatEvent(
                'chat.invited',
                { chat: chatView, keyEnvelope: envelopes.get(u), invitedBy: inviter },
                [u],
              ),
            ),
          ];
          await commit(changeOf(chat, { epoch, upsert: added, envelopes: [...envelopes.values()], events }), [
            ['member.invited', { chatId: chat.id, by: inviter, invited: available }],
            ['key.rotated', { chatId: chat.id, epoch, reason: 'invite' }],
          ]);
          return { chat: chatView, unavailable };
        }),
      );
    },

    async join(chatId: string, username: string) {
      return withRetry(chatId, async () => {
        const { chat, member } = await memberChat(store, chatId, username);
        const keyEnvelope = await currentEnvelope(store, chat, username);
        if (member.state === 'joined') return { chat: await view(chat), keyEnvelope };
        await checkRoomFor(username);
        const next: ChatRecord = {
          ...chat,
          members: chat.members.map((m) => (m.username === username ? { ...m, state: 'joined' } : m)),
        };
        // Everything that can fail (presence is in Redis) before the commit: a 503 changes nothing.
        const chatView = await view(next);
        const everyone = next.members.map((m) => m.username);
        await commit(
          changeOf(chat, {
            upsert: [{ ...member, state: 'joined' }],
            events: [
              { ...chatEvent('member.joined', { chatId: chat.id, username }, everyone), toMembers: true },
            ],
          }),
          [['member.joined', { chatId: chat.id, username }]],
        );
        return { chat: chatView, keyEnvelope };
      });
    },

    async leave(chatId: string, username: string): Promise<void> {
      // declining an invitation is not charged: others choose how many one gets
      const { member } = await memberChat(store, chatId, username);
      const leaving = () => depart(chatId, username);
      if (member.state === 'joined')
        await charged(membershipChanges, username, 'invitations and leaves', leaving);
      else await leaving();
    },

    /** A leave that is not charged to the member: their removal by the administrator. */
    depart,
  };

  /** `username` leaves: in server mode a new epoch for those who remain, in members mode a pending one. */
  function depart(chatId: string, username: string): Promise<void> {
    return withRetry(chatId, async () => {
      const { chat } = await memberChat(store, chatId, username);
      if (isMembersMode(chat)) return membersMode.leave(chat, username);
      const remaining = chat.members.filter((m) => m.username !== username).map((m) => m.username);
      const epoch = chat.epoch + 1;
      const envelopes = await issueEnvelopes(chat.id, epoch, remaining);
      const events = [
        {
          ...chatEvent('member.left', { chatId: chat.id, username }, [...remaining, username]),
          toMembers: true,
        },
        ...keyEvents(chat.id, envelopes, remaining),
      ];
      await commit(
        changeOf(chat, { epoch, remove: [username], envelopes: [...envelopes.values()], events }),
        [
          ['member.left', { chatId: chat.id, username }],
          ...(remaining.length > 0
            ? [['key.rotated', { chatId: chat.id, epoch, reason: 'leave' }] as const]
            : []),
        ],
      );
    });
  }
}
