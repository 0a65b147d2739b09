/**
 * The server's answers bound to what the page asked, and the event stream racing the page's own
 * answers: an answer about another chat, or a mode the keys do not bear out, changes nothing; an
 * event that comes before the answer it follows is not lost or refused. A hostile server's answers
 * and stream are rewritten with playwright's routes.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Route } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { sealEnvelope, wrapKey } from '../../../src/crypto/envelope.js';
import { Participant } from '../../support/client.js';
import { PASSWORD } from '../../support/helper.js';
import { keyStore } from '../../support/library.js';
import { members } from '../../support/members.js';
import {
  browser,
  connected,
  haveChromium,
  keyFiles,
  log,
  logIn,
  openPage,
  pageWithKeys,
  server,
  start,
  useWebFixture,
} from '../../support/web.js';

useWebFixture();

const participant = (user: string) => Participant.login(server.url, server.keysDir, user, PASSWORD);

/** Only the page's own `POST /chats` (not `/chats/{id}/…`, not a GET). */
const isCreate = (route: Route) =>
  route.request().method() === 'POST' && new URL(route.request().url()).pathname === '/chats';

describe.skipIf(!haveChromium)("the server's answers bound to what was asked", { timeout: 120_000 }, () => {
  it('names in the online list are usernames; a join answered with another chat changes nothing', async () => {
    const alice = await start(browser, server, 'alice');
    const bob = await openPage(browser, server);
    await bob.page.route('**/users/online', async (route) => {
      const res = await route.fetch();
      const { users } = (await res.json()) as { users: string[] };
      await route.fulfill({ response: res, json: { users: [...users, 'alice (you)', 'eve\u202enoisrev'] } });
    });
    const other = crypto.randomUUID();
    await bob.page.route('**/chats/*/join', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      await route.fulfill({ response: res, json: { ...body, chat: { ...body.chat, id: other } } });
    });
    await logIn(bob.page, 'bob');
    await bob.page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'bob'));
    await connected(bob.page);
    const online = bob.page.getByRole('region', { name: 'Online' }).getByRole('listitem');
    await online.filter({ hasText: 'alice' }).first().waitFor();
    const listed = await online.allTextContents();
    expect(listed.filter((name) => name.endsWith('(you)'))).toEqual(['bob (you)']);
    expect(listed.filter((name) => !/^[a-z0-9][a-z0-9_.-]*( \(you\))?$/.test(name))).toEqual([]);
    expect(listed).toContain('alice');

    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByLabel('Invitees').fill('bob');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await bob.page.getByRole('button', { name: /invited$/ }).click();
    await bob.page.getByRole('button', { name: 'Join' }).click();
    // the join itself went through (member.joined), and a message after it arrived: by then the
    // answer was long taken, and no chat of the answer's id was made up from it
    await alice.page.getByText(/^Members: alice, bob$/).waitFor();
    await alice.page.getByLabel('Message', { exact: true }).fill('after the join');
    await alice.page.getByRole('button', { name: 'Send' }).click();
    await log(bob.page).getByText('after the join').waitFor();
    expect(await bob.page.locator(`button[data-chat-id="${other}"]`).count()).toBe(0);
    await alice.page.context().close();
    await bob.page.context().close();
  });
});

describe.skipIf(!haveChromium)('the stream and the page’s own answers', { timeout: 120_000 }, () => {
  it('a member.joined that arrives before the page applied its own POST /chats answer is not lost', async () => {
    const alice = await start(browser, server, 'alice');
    const bob = await participant('bob');
    // the server answers POST /chats only once bob has joined and alice's stream has carried
    // that (and a later presence event, so the join was taken before it)
    await alice.page.route(
      (url) => url.pathname === '/chats',
      async (route) => {
        if (!isCreate(route)) return route.fallback();
        const response = await route.fetch();
        const chatId = (await response.json()).chat.id as string;
        const joined = await bob.api.call('joinChat', { params: { chatId } });
        expect(joined.status).toBe(200);
        await participant('erin'); // comes online: a presence event after bob's member.joined
        await alice.page.getByRole('region', { name: 'Online' }).getByText('erin', { exact: true }).waitFor();
        return route.fulfill({ response });
      },
    );
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByLabel('Invitees').fill('bob');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await alice.page.getByText(/^Members: alice, bob/).waitFor();
    // the page's answer (bob invited) is older than the event it took first (bob joined)
    await alice.page.getByText(/^Members: alice, bob$/).waitFor();
    await log(alice.page).getByText('bob joined', { exact: true }).waitFor();
    expect(alice.problems).toEqual([]);
    await alice.page.context().close();
  });
});

describe.skipIf(!haveChromium)(
  'the stream ahead of the page’s own members-mode answers',
  { timeout: 120_000 },
  () => {
    it('the chat.rekey of a new chat taken before the POST /chats answer is not refused as an addition nobody asked for', async () => {
      const dave = await start(browser, server, 'dave');
      await participant('bob'); // online, so invited
      // the server answers POST /chats only once the page, taking the chat.rekey of the new chat
      // from its stream, has read the chat (to commit its first epoch) without the answer
      await dave.page.route(
        (url) => url.pathname === '/chats',
        async (route) => {
          if (!isCreate(route)) return route.fallback();
          const read = dave.page.waitForResponse(
            (r) => r.request().method() === 'GET' && /^\/chats\/[^/]+$/.test(new URL(r.url()).pathname),
          );
          const response = await route.fetch();
          await read;
          return route.fulfill({ response });
        },
      );
      await dave.page.getByRole('button', { name: 'New chat' }).click();
      await dave.page.getByLabel('Only members can read').check();
      await dave.page.getByLabel('Invitees').fill('bob');
      await dave.page.getByRole('button', { name: 'Start chat' }).click();
      await dave.page.getByText('Epoch 1', { exact: true }).waitFor();
      expect(await log(dave.page).getByText('epoch 1: key made by you for bob, dave').count()).toBe(1);
      expect(await dave.page.getByText(/whom you did not invite/).count()).toBe(0);
      expect(dave.problems).toEqual([]);
      await dave.page.context().close();
    });

    it('a POST /chats answer held back does not silence the refusal of an addition to another chat', async () => {
      const dave = await start(browser, server, 'dave');
      const [bob, erin] = await members(server, 'bob', 'erin');
      const { chat } = await bob.client.createChat(['dave'], { keyMode: 'members' });
      await dave.page.locator(`button[data-chat-id="${chat.id}"]`).click();
      await dave.page.getByRole('button', { name: 'Join' }).click();
      await dave.page.getByRole('button', { name: 'Invite' }).waitFor();
      // the server holds the answer to dave's new chat back (for good, in this test)
      let held!: () => void;
      const holding = new Promise<void>((resolve) => {
        held = resolve;
      });
      await dave.page.route(
        (url) => url.pathname === '/chats',
        (route) => {
          if (!isCreate(route)) return route.fallback();
          held();
        },
      );
      await dave.page.getByRole('button', { name: 'New chat' }).click();
      await dave.page.getByLabel('Invitees').fill('bob');
      await dave.page.getByRole('button', { name: 'Start chat' }).click();
      await holding;
      // meanwhile an addition to bob's chat that nobody's client will commit (the server's own)
      const invited = await bob.client.api.call<{ chat: { pending: unknown } }>(
        'POST',
        `/chats/${encodeURIComponent(chat.id)}/invite`,
        { invitees: ['erin'] },
      );
      expect(invited.chat.pending).not.toBeNull();
      await log(dave.page)
        .getByText(/^the key of epoch 2 is left to another member: /)
        .waitFor();
      await bob.close();
      await erin.close();
      await dave.page.context().close();
    });
  },
);

describe.skipIf(!haveChromium)('the answer to the page’s own commit', { timeout: 120_000 }, () => {
  it('is the chat and the epoch committed: an answer with another chat changes nothing', async () => {
    const erin = await start(browser, server, 'erin');
    await participant('carol'); // online, so invited
    await erin.page.getByRole('button', { name: 'New chat' }).click();
    await erin.page.getByLabel('Invitees').fill('carol');
    await erin.page.getByRole('button', { name: 'Start chat' }).click();
    await erin.page.getByRole('button', { name: /^carol · / }).waitFor();
    const other = (await server.app.store.listChats('erin', 10))[0];
    // the server answers the commit of the new chat's first epoch with erin's other chat
    await erin.page.route('**/chats/*/epochs', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      return route.fulfill({ response, json: { ...body, chat: { ...body.chat, id: other.id } } });
    });
    await erin.page.getByRole('button', { name: 'New chat' }).click();
    await erin.page.getByLabel('Only members can read').check();
    await erin.page.getByLabel('Invitees').fill('carol');
    await erin.page.getByRole('button', { name: 'Start chat' }).click();
    await erin.page
      .getByRole('alert')
      .filter({ hasText: /with chat .* epoch 1; nothing taken$/ })
      .waitFor();
    // the other chat is as it was: a server-mode chat, in the list once
    const listed = erin.page.locator(`button[data-chat-id="${other.id}"]`);
    expect(await listed.count()).toBe(1);
    await listed.click();
    await erin.page.getByText('Who can read: the server can read if it is compromised').waitFor();
    await erin.page.context().close();
  });
});

describe.skipIf(!haveChromium)('a chat’s mode as the keys the page holds say', { timeout: 120_000 }, () => {
  it('a server-mode chat the server calls members mode is named as the server-made keys say', async () => {
    await participant('dave'); // online, so invited
    const carol = await start(browser, server, 'carol');
    await carol.page.getByRole('button', { name: 'New chat' }).click();
    await carol.page.getByLabel('Invitees').fill('dave');
    await carol.page.getByRole('button', { name: 'Start chat' }).click();
    await carol.page.getByText('Who can read: the server can read if it is compromised').waitFor();
    const id = (await carol.page.locator('#chat-title').getAttribute('data-chat-id')) ?? '';

    // the server now says the chat is one only members can read; its key is still the server's
    await carol.page.route(
      (url) => url.pathname === '/chats',
      async (route) => {
        if (route.request().method() !== 'GET') return route.fallback();
        const response = await route.fetch();
        const body = await response.json();
        for (const chat of body.chats)
          if (chat.id === id) Object.assign(chat, { keyMode: 'members', pending: null });
        return route.fulfill({ response, json: body });
      },
    );
    await carol.page.reload();
    await logIn(carol.page, 'carol');
    await connected(carol.page);
    const listed = carol.page
      .getByRole('listitem')
      .filter({ has: carol.page.locator(`button[data-chat-id="${id}"]`) });
    expect(await listed.textContent()).toMatch(/\(the server can read if it is compromised\)$/);
    await listed.getByRole('button').click();
    await carol.page.getByText(/^Who can read: /).waitFor();
    expect(await carol.page.getByText(/^Who can read: /).textContent()).toBe(
      'Who can read: the server can read if it is compromised',
    );
    await carol.page.context().close();
  });

  it('an invitation to a "members" chat that carries a server-made key is refused', async () => {
    // a server-mode chat of bob with dave; the server keeps dave's (server-signed) envelope
    const dave = await participant('dave');
    const bob = await participant('bob');
    const created = await bob.api.call('createChat', { body: { invitees: ['dave'] } });
    expect(created.status).toBe(201);
    const chat = created.body.chat;
    const envelope = (await dave.api.call('getChatKey', { params: { chatId: chat.id } })).body;
    expect(envelope.recipient).toBe('dave');

    // and tells dave's page it was invited to a chat only members can read, with that key
    const invited = {
      chat: { ...chat, keyMode: 'members', pending: null },
      keyEnvelope: envelope,
      invitedBy: 'bob',
    };
    let sent = false;
    const context = await browser.newContext();
    context.setDefaultTimeout(20_000);
    await context.route('**/events', (route) => {
      if (sent) return route.fallback();
      sent = true;
      return route.fulfill({
        status: 200,
        contentType: 'text/event-stream',
        body: `id: 1000000\nevent: chat.invited\ndata: ${JSON.stringify(invited)}\n\n`,
      });
    });
    const page = await pageWithKeys(context, server, 'dave');
    await page.locator(`button[data-chat-id="${chat.id}"]`).click();
    expect(
      await log(page)
        .getByText(/^chat\.invited event refused: /)
        .textContent(),
    ).toMatch(/made by the server \(a downgrade\?\)$/);
    await page.getByText('Who can read: the server can read if it is compromised').waitFor();
    await context.close();
  });
});

describe.skipIf(!haveChromium)('a members-mode chat on a new browser', { timeout: 120_000 }, () => {
  it('takes no server-made key for a chat the server says is members mode, though it holds no key of it yet', async () => {
    const [erin, carol] = await members(server, 'erin', 'carol');
    const { chat } = await erin.client.createChat(['carol'], { keyMode: 'members' });
    await carol.next((e) => e.type === 'chat.invited' && e.data.chat.id === chat.id);
    await carol.client.join(chat.id);
    await erin.client.send(chat.id, 'only members can read this', 'ed25519');
    await erin.close();
    await carol.close();

    // carol on a new browser: the server hands her a key it made itself, for the epoch of the message
    const serverKey = await readFile(path.join(server.keysDir, 'server', 'signing.key.pem'), 'utf8');
    const forged = await sealEnvelope(serverKey, {
      chatId: chat.id,
      epoch: 1,
      recipient: 'carol',
      wrappedKey: wrapKey((await keyStore('carol')).encryption.publicKey, randomBytes(32)),
      issuedAt: new Date().toISOString(),
    });
    const context = await browser.newContext();
    context.setDefaultTimeout(20_000);
    await context.route(
      (url) => url.pathname === `/chats/${chat.id}/key`,
      (route) => route.fulfill({ json: forged }),
    );
    const page = await pageWithKeys(context, server, 'carol');
    await connected(page);
    await page.locator(`button[data-chat-id="${chat.id}"]`).click();
    const refused = log(page)
      .getByRole('listitem')
      .filter({ hasText: /refused/ });
    expect(await refused.textContent()).toMatch(/made by the server \(a downgrade\?\)/);
    await page.getByText('Who can read: only members can read', { exact: true }).waitFor();
    await context.close();
  });
});
