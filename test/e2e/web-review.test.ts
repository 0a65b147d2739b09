/**
 * The web client's newest parts attacked (a review of Create account and members mode in the
 * page): a hostile server (answers and the event stream rewritten with playwright's routes) and
 * the races between the stream and the page's own answers. Each test guards one finding.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeMessage, type KeyHandle } from '../../src/client/index.js';
import { sealEnvelope, wrapKey } from '../../src/crypto/envelope.js';
import { keyStore } from '../client/support.js';
import { Participant } from '../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../support/helper.js';
import { members } from './members-support.js';
import { connected, haveChromium, keyFiles, launch, log, logIn, openPage, start } from './web-support.js';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '60000' });
  if (haveChromium) browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const participant = (user: string) => Participant.login(server.url, server.keysDir, user, PASSWORD);

/** Only the page's own `POST /chats` (not `/chats/{id}/…`, not a GET). */
const isCreate = (route: Route) =>
  route.request().method() === 'POST' && new URL(route.request().url()).pathname === '/chats';

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
    const page = await context.newPage();
    await page.goto(server.url);
    await logIn(page, 'dave');
    await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'dave'));
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

/** Whether the page says its stream is connected (a refused key store leaves it not). */
const isConnected = async (page: Page) =>
  (await page
    .getByRole('status')
    .filter({ hasText: /^Connected$/ })
    .count()) > 0;

/** The server hands `user`'s keys with bob's DSA key in place of the user's own. */
async function swapDsaKey(page: Page, user: string): Promise<void> {
  const other = (await keyStore('bob')).signing['dsa-sha256'].publicKey;
  await page.route(`**/users/${user}/keys`, async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    body.signingKeys['dsa-sha256'] = other;
    return route.fulfill({ response, json: body });
  });
}

describe.skipIf(!haveChromium)(
  'the user’s own public keys as the server hands them',
  { timeout: 120_000 },
  () => {
    it('a DSA key of the user swapped by the server is refused: on a later login, and against the picked folder', async () => {
      // the page has no DSA private key to challenge: it checks commits its user's CLI signed
      // with DSA under the registered DSA key, which a server could swap for one of its own
      const alice = await start(browser, server, 'alice'); // honest at first: the keys are kept
      await swapDsaKey(alice.page, 'alice');
      await alice.page.reload();
      await logIn(alice.page, 'alice');
      const refused = alice.page.getByRole('alert').filter({ hasText: /^These are not alice's keys/ });
      expect(await refused.textContent()).toMatch(/the dsa-sha256 key's fingerprint differs/);
      expect(await isConnected(alice.page)).toBe(false);

      // picked again, with the folder's public DSA key: refused as well, nothing kept
      const dsa = path.join(server.keysDir, 'users', 'alice', 'signing-dsa.pub.pem');
      await alice.page
        .getByLabel('Key store', { exact: true })
        .setInputFiles([...keyFiles(server, 'alice'), dsa]);
      await alice.page
        .getByRole('alert')
        .filter({ hasText: /dsa-sha256 key's fingerprint differs/ })
        .waitFor();
      expect(await isConnected(alice.page)).toBe(false);

      // the server's honest answer again: the same folder is taken
      await alice.page.unroute('**/users/alice/keys');
      await alice.page
        .getByLabel('Key store', { exact: true })
        .setInputFiles([...keyFiles(server, 'alice'), dsa]);
      await connected(alice.page);
      await alice.page.context().close();
    });

    it('several signing-dsa.pub.pem picked are refused, not the DSA check skipped', async () => {
      const web = await openPage(browser, server);
      await logIn(web.page, 'erin');
      const dsa = (user: string) => path.join(server.keysDir, 'users', user, 'signing-dsa.pub.pem');
      await web.page
        .getByLabel('Key store', { exact: true })
        .setInputFiles([...keyFiles(server, 'erin'), dsa('bob'), dsa('erin')]);
      await web.page
        .getByRole('alert')
        .filter({ hasText: /^Several files named signing-dsa\.pub\.pem were picked/ })
        .waitFor();
      expect(await isConnected(web.page)).toBe(false);
      await web.page.context().close();
    });

    it('a swapped DSA key refused at login is not taken when the private keys alone are picked again', async () => {
      // the refusal says "pick the files of your own key store": the three private keys match
      // (the server swapped only the DSA key, which no private key here vouches for), so taking
      // them would keep the swapped DSA fingerprint in place of the one kept
      const carol = await start(browser, server, 'carol'); // honest at first: the keys are kept
      await swapDsaKey(carol.page, 'carol');
      await carol.page.reload();
      await logIn(carol.page, 'carol');
      await carol.page
        .getByRole('alert')
        .filter({ hasText: /dsa-sha256 key's fingerprint differs/ })
        .waitFor();
      await carol.page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'carol'));
      const refused = carol.page.getByRole('alert').filter({ hasText: /signing-dsa\.pub\.pem/ });
      expect(await refused.textContent()).toMatch(/the dsa-sha256 key's fingerprint differs/);
      expect(await isConnected(carol.page)).toBe(false);

      // nothing was kept: with the server honest again, the kept keys are taken at the next login
      await carol.page.unroute('**/users/carol/keys');
      await carol.page.reload();
      await logIn(carol.page, 'carol');
      await connected(carol.page);
      expect(carol.problems).toEqual([]);
      await carol.page.context().close();
    });
  },
);

describe.skipIf(!haveChromium)('the user’s own messages', { timeout: 120_000 }, () => {
  it("are checked under the user's own checked keys, not a copy the server hands over later", async () => {
    // the login checks the server's copy of the user's keys; a later GET of them (to read a
    // message of the user's own, sent from the CLI) must not be where the server swaps one
    const alice = await start(browser, server, 'alice');
    const [bob] = await members(server, 'bob');
    const { chat } = await bob.client.createChat(['alice']);
    await alice.page.locator(`button[data-chat-id="${chat.id}"]`).click();
    await alice.page.getByRole('button', { name: 'Join' }).click();
    await alice.page.getByRole('button', { name: 'Invite' }).waitFor();
    // a message "from alice" signed with bob's Ed25519 key, under the chat's real key
    const message = await composeMessage(bob.client.provider, {
      chatId: chat.id,
      epoch: 1,
      sender: 'alice',
      key: (await bob.client.chatKeys.chatKey(chat.id, 1)) as CryptoKey,
      text: 'alice never wrote this',
      alg: 'ed25519',
      signingKey: bob.client.keys.signing.ed25519 as KeyHandle,
    });
    await bob.close();
    const bobs = (await keyStore('bob')).signing.ed25519.publicKey;
    let asked = 0;
    await alice.page.route('**/users/alice/keys', async (route) => {
      asked += 1;
      if (asked === 1) return route.fallback(); // the login's check: honest
      const response = await route.fetch();
      const body = await response.json();
      body.signingKeys.ed25519 = bobs;
      return route.fulfill({ response, json: body });
    });
    await alice.page.route(`**/chats/${chat.id}/messages?*`, (route) =>
      route.fulfill({
        json: {
          messages: [
            { chatId: chat.id, seq: 1, sender: 'alice', receivedAt: new Date().toISOString(), message },
          ],
        },
      }),
    );
    await alice.page.reload();
    await logIn(alice.page, 'alice');
    await connected(alice.page);
    await alice.page.locator(`button[data-chat-id="${chat.id}"]`).click();
    const refused = log(alice.page).getByRole('listitem').filter({ hasText: 'refused' });
    expect(await refused.textContent()).toMatch(/signature does not verify against alice's key/);
    expect(await log(alice.page).getByText('alice never wrote this').count()).toBe(0);
    await alice.page.context().close();
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
    const page = await context.newPage();
    await page.goto(server.url);
    await logIn(page, 'carol');
    await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'carol'));
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
