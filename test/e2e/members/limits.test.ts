import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../support/helper.js';
import { forgeEnvelopes } from '../../support/library.js';
import { type Member, member, specApi } from '../../support/members.js';

// POST /chats/{chatId}/epochs is limited per user (SECURECHAT_COMMIT_LIMIT a minute, 3 here),
// counted before any check: a flood of commits with bad signatures gets 429, not a signature
// check each (security round 2, #4). The signature checks' own cost is test/unit/services/epochs.test.ts.
let server: TestServer;
const open: Member[] = [];
beforeAll(async () => {
  server = await startServer({ SECURECHAT_COMMIT_LIMIT: '3' });
});
afterAll(async () => {
  for (const m of open) await m.close();
  await server?.close();
});

async function login(name: string) {
  const m = await member(server, name, { follow: false });
  open.push(m);
  return m;
}

describe('commits per user', () => {
  it('past the limit a commit is 429 with Retry-After, even a valid one, and changes nothing; others still commit', async () => {
    const alice = await login('alice');
    const bob = await login('bob');
    const carol = await login('carol');
    // alice's client commits epoch 1 as it creates the chat: one of her three
    const { chat } = await alice.client.createChat(['bob', 'carol'], { keyMode: 'members' });
    const chatId = chat.id;
    await bob.client.join(chatId);
    await carol.client.join(chatId);
    await bob.client.api.call('POST', `/chats/${chatId}/leave`);
    const pending = await server.app.store.getChat(chatId);
    expect(pending?.pending).toMatchObject({ epoch: 2, members: ['alice', 'carol'] });

    const commit = (m: Member, body: unknown) =>
      specApi(server, m).call('commitEpoch', { params: { chatId }, body });
    const good = await forgeEnvelopes('alice', chatId, 2, ['alice', 'carol']);
    const forged = (await forgeEnvelopes('erin', chatId, 2, ['alice', 'carol'], 'alice')).body;
    for (let i = 0; i < 2; i++) {
      const res = await commit(alice, forged);
      expect([res.status, res.body.code]).toEqual([400, 'BAD_SIGNATURE']);
    }
    for (const body of [forged, good.body]) {
      const res = await commit(alice, body);
      expect([res.status, res.body.code]).toEqual([429, 'RATE_LIMITED']);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect(await server.app.store.getChat(chatId)).toEqual(pending);

    // the limit is alice's own: carol commits
    const carols = await forgeEnvelopes('carol', chatId, 2, ['alice', 'carol']);
    const res = await commit(carol, carols.body);
    expect(res.status).toBe(200);
    expect(res.body.chat).toMatchObject({ epoch: 2, pending: null });
  });
});
