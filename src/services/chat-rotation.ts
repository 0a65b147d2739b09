import { blocksPosting, EpochConflictError } from '../store/chat-types.js';
import type { Store } from '../store/types.js';
import { type Commit, changeOf } from './chat-change.js';
import type { chatQueue } from './chat-queue.js';
import type { EnvelopeIssuer } from './envelopes.js';
import { keyEvents } from './events.js';
import type { MembersMode } from './members-mode.js';
import { isMembersMode } from './pending.js';

export interface ChatRotationDeps {
  store: Store;
  issueEnvelopes: EnvelopeIssuer;
  commit: Commit;
  membersMode: MembersMode;
  serialized: ReturnType<typeof chatQueue>;
}

/** Drops the rotation when the chat moved on from `fromEpoch` meanwhile (its key was just rotated). */
const ifStillCurrent = (error: unknown) => {
  if (!(error instanceof EpochConflictError)) throw error;
};

/** Key rotation with the same members: in server mode a new epoch, in members mode a pending one. */
export function chatRotation({ store, issueEnvelopes, commit, membersMode, serialized }: ChatRotationDeps) {
  const rotating = new Set<string>();

  async function rotateNow(chatId: string, reason: string, fromEpoch: number): Promise<void> {
    const chat = await store.getChat(chatId);
    if (!chat || chat.members.length === 0 || chat.epoch !== fromEpoch) return;
    if (isMembersMode(chat)) {
      // what waits stops posting, and its commit rotates the key; additions alone are replaced
      if (blocksPosting(chat.pending)) return;
      await membersMode
        .propose(chat, { reason: reason === 'age' ? 'age' : 'messages' })
        .catch(ifStillCurrent);
      return;
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
      [['key.rotated', { chatId: chat.id, epoch, reason }]],
    ).catch(ifStillCurrent);
  }

  /**
   * A new epoch with the same members (after many messages, or a long time, in `fromEpoch`). If
   * the chat moved on from it meanwhile (here or on another instance), its key was just rotated.
   */
  return async function rotate(chatId: string, reason: string, fromEpoch: number): Promise<void> {
    if (rotating.has(chatId)) return;
    rotating.add(chatId);
    try {
      await serialized(chatId, () => rotateNow(chatId, reason, fromEpoch));
    } finally {
      rotating.delete(chatId);
    }
  };
}
