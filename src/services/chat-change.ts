import type { Fanout } from '../bus/types.js';
import type { KeyEnvelope } from '../crypto/envelope.js';
import type { ChatRecord, MembershipChange } from '../store/chat-types.js';
import type { NewEvent } from '../store/message-types.js';
import type { Store } from '../store/types.js';
import { publishEvents } from './events.js';

/** What to write: a new chat, or a change of an existing one's members, epoch or pending epoch. */
export type ChatWrite =
  | MembershipChange
  | { create: ChatRecord; envelopes: KeyEnvelope[]; events: NewEvent[] };

/** A security event to record once the write is published. */
export type Audit = readonly [event: string, fields: Record<string, unknown>];

export type Commit = (write: ChatWrite, audits: Audit[]) => Promise<void>;

/**
 * The one path every change of a chat takes: its envelopes, members and events written in one
 * transaction, the stored events published, then the audit records. A refusal of the store
 * (EpochConflictError) comes out before anything is published or recorded.
 */
export function chatCommitter(
  store: Store,
  bus: Fanout,
  audit: (event: string, fields: Record<string, unknown>) => void,
): Commit {
  return async (write, audits) => {
    const stored =
      'create' in write
        ? await store.createChat(write.create, write.envelopes, write.events)
        : await store.changeMembership(write);
    await publishEvents(bus, stored);
    for (const [event, fields] of audits) audit(event, fields);
  };
}

/** A change of `chat` that keeps its epoch, members, envelopes and pending epoch unless `fields` say otherwise. */
export const changeOf = (chat: ChatRecord, fields: Partial<MembershipChange>): MembershipChange => ({
  chatId: chat.id,
  expectedEpoch: chat.epoch,
  epoch: chat.epoch,
  upsert: [],
  remove: [],
  envelopes: [],
  events: [],
  ...fields,
});
