import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { onDatabase } from '../../support/chats.js';
import { type ApiResponse, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

const login = (server: TestServer, username: string) =>
  Participant.login(server.url, server.keysDir, username, PASSWORD);

function expectLimited(res: ApiResponse) {
  expect(res.status).toBe(429);
  expect(res.body.code).toBe('RATE_LIMITED');
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
}

describe('per-user limits on chats and history', () => {
  let server: TestServer;
  let people: Record<string, Participant>;
  beforeAll(async () => {
    server = await startServer({
      SECURECHAT_CHAT_LIMIT: '3',
      SECURECHAT_MEMBERSHIP_LIMIT: '3',
      SECURECHAT_MAX_CHATS: '4',
      SECURECHAT_HISTORY_LIMIT: '4',
    });
    people = {};
    for (const u of ['alice', 'bob', 'carol', 'dave']) people[u] = await login(server, u);
  });
  afterAll(() => server?.close());

  it('creating chats: SECURECHAT_CHAT_LIMIT a minute per user, then 429 with Retry-After, changing nothing', async () => {
    const { alice, bob } = people;
    for (let i = 0; i < 3; i++)
      expect((await alice.api.call('createChat', { body: { invitees: ['bob'] } })).status).toBe(201);
    const before = (await bob.api.call('listChats')).body.chats.length;
    expectLimited(await alice.api.call('createChat', { body: { invitees: ['bob'] } }));
    expect((await bob.api.call('listChats')).body.chats).toHaveLength(before);
    // the limit is the user's own: bob is not held back by alice
    expect((await bob.api.call('createChat', { body: { invitees: ['carol'] } })).status).toBe(201);
  });

  it('invitations and leaves together: SECURECHAT_MEMBERSHIP_LIMIT a minute per user', async () => {
    const { carol } = people;
    const created = await carol.api.call('createChat', { body: { invitees: ['dave'] } });
    const chatId = created.body.chat.id;
    const invite = (u: string) =>
      carol.api.call('inviteToChat', { params: { chatId }, body: { invitees: [u] } });
    expect((await invite('alice')).status).toBe(200);
    expect((await invite('bob')).status).toBe(200);
    const other = await carol.api.call('createChat', { body: { invitees: ['alice'] } });
    expect((await carol.api.call('leaveChat', { params: { chatId: other.body.chat.id } })).status).toBe(204);
    const epoch = (await carol.api.call('getChat', { params: { chatId } })).body.epoch;
    expectLimited(await invite('erin'));
    expectLimited(await carol.api.call('leaveChat', { params: { chatId } }));
    const after = await carol.api.call('getChat', { params: { chatId } });
    expect(after.body.epoch).toBe(epoch);
    expect(after.body.members.map((m: { username: string }) => m.username)).not.toContain('erin');
  });

  it('history reads: SECURECHAT_HISTORY_LIMIT pages a minute per user', async () => {
    const { dave } = people;
    const chatId = (await dave.api.call('listChats')).body.chats[0].id;
    for (let i = 0; i < 4; i++) {
      expect((await dave.api.call('listMessages', { params: { chatId } })).status).toBe(200);
    }
    expectLimited(await dave.api.call('listMessages', { params: { chatId } }));
  });
});

describe('SECURECHAT_MAX_CHATS caps joined chats', () => {
  let server: TestServer;
  afterAll(() => server?.close());

  it('invitations do not count and declining them is free; creating or joining past the cap is 409 TOO_MANY_CHATS', async () => {
    server = await startServer({
      SECURECHAT_MAX_CHATS: '2',
      SECURECHAT_MEMBERSHIP_LIMIT: '2',
      SECURECHAT_CHAT_LIMIT: '100',
    });
    const alice = await login(server, 'alice');
    const others = [await login(server, 'bob'), await login(server, 'carol'), await login(server, 'dave')];
    const invitations: string[] = [];
    for (let i = 0; i < 6; i++) {
      const made = await others[i % 3].api.call('createChat', { body: { invitees: ['alice'] } });
      expect(made.status).toBe(201);
      expect(made.body.unavailable).toEqual([]);
      invitations.push(made.body.chat.id);
    }
    // six invitations, and alice may still make her two chats
    const own: string[] = [];
    for (let i = 0; i < 2; i++) {
      const made = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
      expect(made.status).toBe(201);
      own.push(made.body.chat.id);
    }
    const third = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
    expect(third.status).toBe(409);
    expect(third.body.code).toBe('TOO_MANY_CHATS');
    // at the cap, joining is refused and changes nothing
    const join = await alice.api.call('joinChat', { params: { chatId: invitations[0] } });
    expect(join.status).toBe(409);
    expect(join.body.code).toBe('TOO_MANY_CHATS');
    const still = await alice.api.call('getChat', { params: { chatId: invitations[0] } });
    expect(still.body.members.find((m: { username: string }) => m.username === 'alice').state).toBe(
      'invited',
    );
    // declining five invitations is not charged to a membership limit of two a minute
    for (const chatId of invitations.slice(1))
      expect((await alice.api.call('leaveChat', { params: { chatId } })).status).toBe(204);
    // leaving a joined chat is, and makes room to join
    expect((await alice.api.call('leaveChat', { params: { chatId: own[0] } })).status).toBe(204);
    expect((await alice.api.call('joinChat', { params: { chatId: invitations[0] } })).status).toBe(200);
    expect((await alice.api.call('leaveChat', { params: { chatId: own[1] } })).status).toBe(204);
    expectLimited(await alice.api.call('leaveChat', { params: { chatId: invitations[0] } }));
  });
});

describe('GET /chats pages', () => {
  let server: TestServer;
  let alice: Participant;
  const ids: string[] = [];
  beforeAll(async () => {
    server = await startServer();
    alice = await login(server, 'alice');
    await login(server, 'bob');
    await login(server, 'carol');
    for (let i = 0; i < 7; i++) {
      const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
      await alice.acceptEnvelope(created.body.keyEnvelope);
      ids.push(created.body.chat.id);
    }
  });
  afterAll(() => server?.close());

  async function all(limit: number) {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const query: Record<string, string | number> = { limit };
      if (cursor !== undefined) query.cursor = cursor;
      const res = await alice.api.call('listChats', { query });
      expect(res.status).toBe(200);
      pages.push(res.body.chats.map((c: { id: string }) => c.id));
      cursor = res.body.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return pages;
  }

  it('walks every chat once with nextCursor, and says null on the last page', async () => {
    const pages = await all(3);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(new Set(pages.flat())).toEqual(new Set(ids));
    expect(pages.flat()).toHaveLength(7);
    expect((await alice.api.call('listChats')).body).toMatchObject({ nextCursor: null });
  });

  it('puts the chat with the most recent activity first: a message, then a membership change', async () => {
    const first = async () => (await alice.api.call('listChats', { query: { limit: 1 } })).body.chats[0].id;
    expect((await alice.send(ids[0], 1, 'news', 'ed25519')).res.status).toBe(201);
    expect(await first()).toBe(ids[0]);
    expect(
      (await alice.api.call('inviteToChat', { params: { chatId: ids[3] }, body: { invitees: ['carol'] } }))
        .status,
    ).toBe(200);
    expect(await first()).toBe(ids[3]);
  });

  it('refuses a cursor it did not give out, and a limit over 500', async () => {
    const queries: Record<string, string | number>[] = [
      { cursor: 'abc' },
      { cursor: 'W10' },
      { limit: 501 },
      { limit: 0 },
    ];
    for (const query of queries) {
      const res = await alice.api.call('listChats', { query });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('INVALID_QUERY');
    }
  });

  it('never skips a chat that becomes active while the pages are read: it comes again after the pass', async () => {
    const full = (await alice.api.call('listChats', { query: { limit: 100 } })).body.chats.map(
      (c: { id: string }) => c.id,
    );
    const first = await alice.api.call('listChats', { query: { limit: 2 } });
    const seen: string[] = first.body.chats.map((c: { id: string }) => c.id);
    // the chat that would come last moves to the top, above where the listing has got to
    const moved = full[full.length - 1];
    expect((await alice.send(moved, 1, 'while paging', 'ed25519')).res.status).toBe(201);
    let cursor = first.body.nextCursor;
    let pages = 1;
    while (cursor) {
      const page = await alice.api.call('listChats', { query: { limit: 2, cursor } });
      expect(page.status).toBe(200);
      seen.push(...page.body.chats.map((c: { id: string }) => c.id));
      cursor = page.body.nextCursor;
      pages += 1;
      expect(pages).toBeLessThan(20);
    }
    expect(seen).toContain(moved);
    expect(new Set(seen)).toEqual(new Set(full));
    // it came in the pass after the first, once
    expect(seen.filter((id) => id === moved)).toHaveLength(1);
    expect(seen.indexOf(moved)).toBeGreaterThanOrEqual(full.length - 1);
  });

  it("a chat's activity never goes back (its time is taken before the commit)", async () => {
    // as if a later change had committed first: ids[4] and ids[5] are ahead of this post's time
    await onDatabase(server, 'UPDATE chats SET active_at = ? WHERE id = ?', [
      '2099-01-02T00:00:00.000Z',
      ids[4],
    ]);
    await onDatabase(server, 'UPDATE chats SET active_at = ? WHERE id = ?', [
      '2099-01-01T00:00:00.000Z',
      ids[5],
    ]);
    expect((await alice.send(ids[4], 1, 'late', 'ed25519')).res.status).toBe(201);
    expect(
      (await alice.api.call('inviteToChat', { params: { chatId: ids[5] }, body: { invitees: ['carol'] } }))
        .status,
    ).toBe(200);
    const top = await alice.api.call('listChats', { query: { limit: 2 } });
    expect(top.body.chats.map((c: { id: string }) => c.id)).toEqual([ids[4], ids[5]]);
  });

  it('refuses a forged cursor (a NUL, a wrong shape, a time or id not its own) with 400, never a 5xx', async () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const time = '2026-01-01T00:00:00.000Z';
    const forged = [
      ['\u0000', ids[0]],
      [time, '\u0000'],
      [`${time}\u0000`, ids[0]],
      [time, `${ids[0]}\u0000`],
      ['\ud800', ids[0]],
      ['\uffff', '\uffff'],
      ['2026-13-01T00:00:00.000Z', ids[0]],
      ['2026-01-01T00:00:00Z', ids[0]],
      [time, ids[0].toUpperCase()],
      [time, 'x'],
      [time, ids[0], 'more'],
      [time, ids[0], null, -1],
      [time, ids[0], null, 1.5],
      [time, ids[0], 5, 4],
      [time, null, null, 4],
      [null, ids[0], null, 4],
      [time, ids[0], '1', 4],
      [time, ids[0], null, 2 ** 53],
      [0, ids[0]],
      { activeAt: time, id: ids[0] },
    ];
    for (const value of forged) {
      const res = await alice.api.call('listChats', { query: { cursor: b64(value) } });
      expect(res.status, JSON.stringify(value)).toBe(400);
      expect(res.body.code).toBe('INVALID_QUERY');
    }
    const own = await alice.api.call('listChats', { query: { cursor: b64([time, ids[0]]) } });
    expect(own.status).toBe(200);
  });

  it('lists a chat without active_at (made by an instance of the previous release) by its creation, and takes its own cursors', async () => {
    await onDatabase(server, 'UPDATE chats SET active_at = NULL WHERE id = ?', [ids[1]]);
    const pages = await all(1);
    expect(pages.flat()).toHaveLength(7);
    expect(new Set(pages.flat())).toEqual(new Set(ids));
    // ids[1] has had no activity since its creation: it comes after every chat created later
    expect(pages.flat().indexOf(ids[1])).toBeGreaterThan(pages.flat().indexOf(ids[2]));
  });

  it('asks presence about each member once per page, not once per member per chat', async () => {
    const { presence } = server.app;
    const perUser = vi.spyOn(presence, 'isOnline');
    const everyone = vi.spyOn(presence, 'onlineUsers');
    try {
      const res = await alice.api.call('listChats', { query: { limit: 500 } });
      expect(res.body.chats).toHaveLength(7);
      const distinct = new Set(
        res.body.chats.flatMap((c: { members: { username: string }[] }) => c.members.map((m) => m.username)),
      );
      // 7 chats of 2 or 3 members: 15 memberships, 3 people
      expect(distinct.size).toBe(3);
      expect(perUser.mock.calls.map(([u]) => u).sort()).toEqual([...distinct].sort());
      expect(everyone).not.toHaveBeenCalled();
    } finally {
      perUser.mockRestore();
      everyone.mockRestore();
    }
  });
});
