import { randomUUID } from 'node:crypto';
import type { KeyEnvelope } from '../crypto/envelope.js';
import { timestamp } from '../crypto/time.js';
import { Errors } from '../errors.js';
import type { ChatRecord, KeyMode, MemberRecord } from '../store/chat-types.js';
import type { Commit } from './chat-change.js';
import { type ChatLimiter, charged } from './chat-limits.js';
import type { View } from './chat-view.js';
import type { EnvelopeIssuer } from './envelopes.js';
import { chatEvent } from './events.js';
import type { MembersMode } from './members-mode.js';
import type { Classify } from './online.js';

export interface ChatCreationDeps {
  issueEnvelopes: EnvelopeIssuer;
  view: View;
  classify: Classify;
  commit: Commit;
  membersMode: MembersMode;
  limiter: ChatLimiter;
}

/**
 * A new chat: in server mode its first epoch and every member's envelope at once, each registered
 * invitee (online or not) told with `chat.invited`; in members mode a first epoch that waits for
 * the creator's commit. Every session of the creator is told with `chat.created`.
 */
export function chatCreation({
  issueEnvelopes,
  view,
  classify,
  commit,
  membersMode,
  limiter,
}: ChatCreationDeps) {
  const { creations, checkRoomFor, checkSize } = limiter;
  return async function create(creator: string, invitees: string[], keyMode: KeyMode = 'server') {
    if (invitees.includes(creator)) throw new Errors.INVALID_INVITEE('You cannot invite yourself.');
    await checkRoomFor(creator);
    return charged(creations, creator, 'chats created', async () => {
      const { available, unavailable } = await classify(invitees);
      checkSize(1 + available.length);
      if (keyMode === 'members')
        return { chat: await membersMode.create(creator, available), keyEnvelope: null, unavailable };
      const chat: ChatRecord = {
        id: randomUUID(),
        epoch: 1,
        createdBy: creator,
        createdAt: timestamp(),
        members: [
          { username: creator, state: 'joined', sinceEpoch: 1 },
          ...available.map((username): MemberRecord => ({ username, state: 'invited', sinceEpoch: 1 })),
        ],
      };
      const envelopes = await issueEnvelopes(
        chat.id,
        1,
        chat.members.map((m) => m.username),
      );
      const chatView = await view(chat);
      const events = [
        chatEvent('chat.created', { chat: chatView, keyEnvelope: envelopes.get(creator) }, [creator]),
        ...available.map((u) =>
          chatEvent('chat.invited', { chat: chatView, keyEnvelope: envelopes.get(u), invitedBy: creator }, [
            u,
          ]),
        ),
      ];
      await commit({ create: chat, envelopes: [...envelopes.values()], events }, [
        ['chat.created', { chatId: chat.id, by: creator, invited: available, epoch: 1 }],
      ]);
      return { chat: chatView, keyEnvelope: envelopes.get(creator) as KeyEnvelope, unavailable };
    });
  };
}
