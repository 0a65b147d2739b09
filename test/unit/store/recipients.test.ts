import { randomUUID } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { newMessage, useSqliteStore } from '../../support/store.js';

// A message goes to the chat's members as they are when it is stored. SQLite keeps each chat's
// member list between posts (src/store/sqlite/recipients.ts): these check that every change of
// members, on this connection or on another one, is seen by the next post.
const sqlite = useSqliteStore();

const now = () => new Date().toISOString();

async function recipientsOfPost(chatId: string, epoch: number): Promise<string[]> {
  const input = newMessage(chatId, 'alice', epoch);
  const { event } = await sqlite.store().appendMessage(input, (seq) => JSON.stringify({ seq }));
  return [...event.recipients].sort();
}

async function chatOf(...usernames: string[]): Promise<string> {
  const chatId = randomUUID();
  await sqlite.store().createChat(
    {
      id: chatId,
      epoch: 1,
      createdBy: usernames[0],
      createdAt: now(),
      members: usernames.map((username) => ({ username, state: 'joined' as const, sinceEpoch: 1 })),
    },
    [],
    [],
  );
  return chatId;
}

describe("a message's recipients", () => {
  it('follow each change of members made through the store', async () => {
    const chatId = await chatOf('alice', 'bob');
    expect(await recipientsOfPost(chatId, 1)).toEqual(['alice', 'bob']);
    expect(await recipientsOfPost(chatId, 1)).toEqual(['alice', 'bob']);
    await sqlite.store().changeMembership({
      chatId,
      expectedEpoch: 1,
      epoch: 2,
      upsert: [{ username: 'carol', state: 'invited', sinceEpoch: 2 }],
      remove: ['bob'],
      envelopes: [],
      events: [],
    });
    expect(await recipientsOfPost(chatId, 2)).toEqual(['alice', 'carol']);
    await sqlite.store().changeMembership({
      chatId,
      expectedEpoch: 2,
      epoch: 2,
      upsert: [{ username: 'dave', state: 'invited', sinceEpoch: 2 }],
      remove: [],
      envelopes: [],
      events: [],
    });
    expect(await recipientsOfPost(chatId, 2)).toEqual(['alice', 'carol', 'dave']);
  });

  it('follow a change committed by another connection to the same database', async () => {
    const chatId = await chatOf('alice', 'bob', 'carol');
    expect(await recipientsOfPost(chatId, 1)).toEqual(['alice', 'bob', 'carol']);
    const other = new Database(path.join(sqlite.dir(), 'securechat.db'));
    try {
      other.prepare('DELETE FROM members WHERE chat_id = ? AND username = ?').run(chatId, 'bob');
    } finally {
      other.close();
    }
    expect(await recipientsOfPost(chatId, 1)).toEqual(['alice', 'carol']);
  });

  it('are a list no one can change', async () => {
    const chatId = await chatOf('alice', 'bob');
    const input = newMessage(chatId, 'alice');
    const { event } = await sqlite.store().appendMessage(input, (seq) => JSON.stringify({ seq }));
    expect(() => event.recipients.push('mallory')).toThrow(TypeError);
    expect(await recipientsOfPost(chatId, 1)).toEqual(['alice', 'bob']);
  });
});
