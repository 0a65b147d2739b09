import type { Fanout } from '../bus/types.js';
import type { KeyEnvelope } from '../crypto/envelope.js';
import type { NewEvent, StoredEvent } from '../store/message-types.js';

/**
 * The events the services store and publish. A message's event data is not here: the store makes
 * it again when it reads a message event (`messageEventData` in `store/rows.ts`, its one home).
 */

/** One event, addressed to exactly `recipients`. */
export const chatEvent = (
  type: string,
  data: { chatId?: string; chat?: { id: string } } & Record<string, unknown>,
  recipients: string[],
): NewEvent => ({ type, data: JSON.stringify(data), recipients, chatId: data.chatId ?? data.chat?.id });

/** Server mode: `chat.key`, each of `usernames` addressed with their envelope of the new epoch. */
export const keyEvents = (chatId: string, envelopes: Map<string, KeyEnvelope>, usernames: string[]) =>
  usernames.map((u) => chatEvent('chat.key', { chatId, keyEnvelope: envelopes.get(u) }, [u]));

export async function publishEvents(bus: Fanout, events: StoredEvent[]): Promise<void> {
  for (const e of events)
    await bus.publish({ kind: 'event', type: e.type, data: e.data, id: e.id, to: e.recipients });
}
