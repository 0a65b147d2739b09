import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKEND, backendEnv } from '../../support/backend.js';
import { Participant, type SseEvent } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// A chat's events are stored once and who receives them is derived from membership (migration
// 5): these pin that a member gets the chat's events from when they joined until they left, live
// and on replay alike, and that a message's bytes are not stored again with its event.

/** One query on the server's database behind its back; `?` placeholders on both engines. */
async function query(server: TestServer, sql: string): Promise<Record<string, unknown>[]> {
  if (BACKEND === 'sqlite') {
    const db = new Database(path.join(server.dataDir, 'securechat.db'), { readonly: true });
    try {
      return db.prepare(sql).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  }
  const db = new pg.Client({ connectionString: (await backendEnv(server.dataDir)).DATABASE_URL });
  await db.connect();
  try {
    return (await db.query(sql)).rows;
  } finally {
    await db.end();
  }
}

let server: TestServer;
let alice: Participant;
let bob: Participant;
let carol: Participant;
beforeAll(async () => {
  server = await startServer({ SECURECHAT_MEMBERSHIP_LIMIT: '1000000' });
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
});
afterAll(() => server?.close());

/** alice's key for the chat's current epoch, read and verified; returns the epoch. */
async function currentKey(p: Participant, chatId: string): Promise<number> {
  const res = await p.api.call('getChatKey', { params: { chatId } });
  expect(res.status).toBe(200);
  await p.acceptEnvelope(res.body);
  return res.body.epoch;
}

async function post(chatId: string, text: string): Promise<string> {
  const epoch = await currentKey(alice, chatId);
  const { res, body } = await alice.send(chatId, epoch, text, 'ed25519');
  expect(res.status).toBe(201);
  return body.id;
}

const messageIds = (events: SseEvent[], chatId: string) =>
  events.filter((e) => e.event === 'message' && e.json.chatId === chatId).map((e) => e.json.message.id);

describe('membership decides who receives a chat event', () => {
  it('a member never receives the events from before they joined or while they were away, live or on replay', async () => {
    const start = (await server.app.store.eventBounds()).latest;
    const bobLive = await bob.events();
    const carolLive = await carol.events();

    const created = await alice.api.call('createChat', { body: { invitees: ['carol'] } });
    expect(created.status).toBe(201);
    const chatId = created.body.chat.id;
    expect((await carol.api.call('joinChat', { params: { chatId } })).status).toBe(200);
    const before = await post(chatId, 'before bob');

    expect(
      (await alice.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['bob'] } })).status,
    ).toBe(200);
    expect((await bob.api.call('joinChat', { params: { chatId } })).status).toBe(200);
    const during = await post(chatId, 'while bob is in');
    expect((await bob.api.call('leaveChat', { params: { chatId } })).status).toBe(204);
    const away = await post(chatId, 'while bob is away');

    expect(
      (await alice.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['bob'] } })).status,
    ).toBe(200);
    expect((await bob.api.call('joinChat', { params: { chatId } })).status).toBe(200);
    const back = await post(chatId, 'bob is back');
    const latest = (await server.app.store.eventBounds()).latest;

    // live: bob gets the messages of his two stays, carol every one
    await bobLive.nextOf('message', (m) => m.message.id === back);
    await carolLive.nextOf('message', (m) => m.message.id === back);
    expect(messageIds(bobLive.events, chatId)).toEqual([during, back]);
    expect(messageIds(carolLive.events, chatId)).toEqual([before, during, away, back]);

    // replay from before it all: the same events as live, in id order, and nothing of his absence
    const bobReplay = await bob.events(String(start));
    await bobReplay.nextOf('message', (m) => m.message.id === back);
    expect(messageIds(bobReplay.events, chatId)).toEqual([during, back]);
    const ids = (events: SseEvent[]) =>
      events.filter((e) => e.id !== undefined && Number(e.id) <= latest).map((e) => `${e.id} ${e.event}`);
    expect(ids(bobReplay.events)).toEqual(ids(bobLive.events));
    const replayed = bobReplay.events.filter((e) => e.event !== undefined).map((e) => e.event);
    // he learns that he left, and nothing of the chat while he was out (not its key, not who came)
    expect(replayed).toEqual([
      'chat.invited',
      'member.joined',
      'message',
      'member.left',
      'chat.invited',
      'member.joined',
      'message',
    ]);
    const carolReplay = await carol.events(String(start));
    await carolReplay.nextOf('message', (m) => m.message.id === back);
    expect(messageIds(carolReplay.events, chatId)).toEqual([before, during, away, back]);
    // the data replayed is byte for byte what went out live
    const data = (events: SseEvent[]) => events.filter((e) => e.event === 'message').map((e) => e.data);
    expect(data(carolReplay.events)).toEqual(data(carolLive.events));
    for (const s of [bobLive, carolLive, bobReplay, carolReplay]) s.close();

    // stored once: the message events of this chat name no recipient and hold no copy of the message
    const stored = await query(
      server,
      `SELECT e.id, e.data, (SELECT count(*) FROM event_recipients r WHERE r.event_id = e.id) AS n
       FROM events e WHERE e.type = 'message' AND e.chat_id = '${chatId}' ORDER BY e.id`,
    );
    expect(stored.map((r) => [r.data, Number(r.n)])).toEqual([
      ['', 0],
      ['', 0],
      ['', 0],
      ['', 0],
    ]);
  });
});
