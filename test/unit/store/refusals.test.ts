import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppendRefusedError, type NewMessage } from '../../../src/store/message-types.js';
import { newMessage as message, useSqliteStore } from '../../support/store.js';

// The store refuses in its own terms (a reason, and the chat's epoch when it is stale), never with
// an HTTP error: services/messages.ts says it to the client. PostgreSQL's twin: test/postgres/store.test.ts.
const sqlite = useSqliteStore();

const now = () => new Date().toISOString();

const eventData = (input: NewMessage) => (seq: number) => JSON.stringify({ chatId: input.chatId, seq });

async function refusal(input: NewMessage) {
  const error = await sqlite
    .store()
    .appendMessage(input, eventData(input))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(AppendRefusedError);
  const { reason, epoch } = error as AppendRefusedError;
  return { reason, epoch };
}

describe('the SQLite store refuses a message with a reason of its own', () => {
  it('says which check failed, stores nothing, and takes the next message', async () => {
    const chatId = randomUUID();
    await sqlite.store().createChat(
      {
        id: chatId,
        epoch: 1,
        createdBy: 'alice',
        createdAt: now(),
        members: [
          { username: 'alice', state: 'joined', sinceEpoch: 1 },
          { username: 'bob', state: 'invited', sinceEpoch: 1 },
        ],
      },
      [],
      [],
    );
    const first = message(chatId, 'alice');
    expect((await sqlite.store().appendMessage(first, eventData(first))).seq).toBe(1);
    const latest = (await sqlite.store().eventBounds()).latest;

    const again = message(chatId, 'alice', 1, first.message.id.toUpperCase());
    expect(await refusal(again)).toEqual({ reason: 'duplicate-message', epoch: undefined });
    expect(await refusal(message(chatId, 'alice', 2))).toEqual({ reason: 'stale-epoch', epoch: 1 });
    expect(await refusal(message(chatId, 'bob'))).toEqual({ reason: 'not-joined', epoch: undefined });
    expect(await refusal(message(chatId, 'erin'))).toEqual({ reason: 'chat-not-found', epoch: undefined });
    expect(await refusal(message(randomUUID(), 'alice'))).toEqual({
      reason: 'chat-not-found',
      epoch: undefined,
    });

    expect((await sqlite.store().eventBounds()).latest).toBe(latest);
    const next = message(chatId, 'alice');
    expect((await sqlite.store().appendMessage(next, eventData(next))).seq).toBe(2);
  });
});
