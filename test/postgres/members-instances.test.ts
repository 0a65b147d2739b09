import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { backendEnv } from '../support/backend.js';
import { startServer, type TestServer } from '../support/helper.js';
import { type Member, member } from '../support/members.js';

// Members mode on two instances of one PostgreSQL and one Redis (the postgres project only): a
// commit through one instance reaches members on the other, and two commits of one pending
// epoch made at once through the two instances leave exactly one epoch.
let a: TestServer;
let b: TestServer;
const open: Member[] = [];
beforeAll(async () => {
  a = await startServer();
  const app = await buildApp(
    loadConfig({
      SECURECHAT_DATA_DIR: a.dataDir,
      SECURECHAT_KEYS_DIR: a.keysDir,
      SECURECHAT_DEMO_USERS: 'false',
      BCRYPT_COST: '4',
      LOG_LEVEL: 'silent',
      ...(await backendEnv(a.dataDir)),
    }),
    { keySizes: { rsaBits: 2048 } },
  );
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  b = { ...a, app, url, close: () => app.close() };
});
afterAll(async () => {
  for (const m of open) await m.close();
  await b?.close();
  await a?.close();
});

describe('members mode across two instances', () => {
  it('commits once, whichever instance each member uses', async () => {
    const alice = await member(a, 'alice', { follow: false });
    const bob = await member(a, 'bob');
    const carol = await member(b, 'carol', { follow: false });
    open.push(alice, bob, carol);
    const { chat } = await alice.client.createChat(['bob', 'carol'], { keyMode: 'members' });
    const chatId = chat.id;
    await bob.next((e) => e.type === 'chat.invited');
    await bob.client.join(chatId);
    await carol.client.chatKeys.chatKey(chatId, 1);
    await carol.client.join(chatId);

    // bob leaves through A; alice (on A) and carol (on B) both commit epoch 2 at once
    await bob.client.api.call('POST', `/chats/${chatId}/leave`);
    const outcomes = await Promise.all([
      alice.client.commits.commitPending(chatId),
      carol.client.commits.commitPending(chatId),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['committed', 'lost']);
    const stored = await a.app.store.getChat(chatId);
    expect(stored).toMatchObject({ epoch: 2, pending: null });
    const committers = new Set<string>();
    for (const u of ['alice', 'carol']) {
      const e = (await a.app.store.getEnvelope(chatId, 2, u)) as { committer: string };
      committers.add(e.committer);
    }
    expect(committers.size).toBe(1);

    // whoever lost takes the winner's key (made through the other instance) and reads on
    await alice.client.chatKeys.chatKey(chatId, 2);
    await carol.client.chatKeys.chatKey(chatId, 2);
    const sent = await alice.client.send(chatId, 'one epoch 2, made once', 'ed25519');
    expect(sent.epoch).toBe(2);
    const history = await carol.client.api.call<{ messages: Parameters<Member['client']['read']>[0][] }>(
      'GET',
      `/chats/${chatId}/messages`,
    );
    const last = history.messages.at(-1) as Parameters<Member['client']['read']>[0];
    expect(await carol.client.read(last, chatId)).toBe('one epoch 2, made once');
  });
});
