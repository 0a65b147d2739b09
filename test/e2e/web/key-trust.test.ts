import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { type Fingerprints, keySetFingerprint } from '../../../src/client/index.js';
import { PASSWORD } from '../../support/helper.js';
import {
  browser,
  connected,
  haveChromium,
  keyFiles,
  log,
  logIn,
  server,
  start,
  useWebFixture,
} from '../../support/web.js';

useWebFixture();

/** What IndexedDB keeps for a user's pins and epochs (stores.ts), read in the page. */
function savedState(page: Page, user: string) {
  return page.evaluate(
    (key) =>
      new Promise<{ users: Record<string, unknown>; epochs: Record<string, number> }>((resolve, reject) => {
        const open = indexedDB.open('securechat');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('kv').objectStore('kv').get(key);
          get.onerror = () => reject(get.error);
          get.onsuccess = () => resolve(get.result);
        };
      }),
    `state/${user}`,
  );
}

/** A message of the documented shape whose signature is no signature: refused once checked. */
function forged(chatId: string, seq: number, sender: string) {
  return {
    chatId,
    seq,
    sender,
    receivedAt: new Date().toISOString(),
    message: {
      id: crypto.randomUUID(),
      epoch: 1,
      sentAt: new Date().toISOString(),
      iv: 'AAAAAAAAAAAAAAAA',
      ciphertext: 'AAAA',
      tag: 'AAAAAAAAAAAAAAAAAAAAAA==',
      signatureAlgorithm: 'ed25519',
      signature: 'AAAA',
    },
  };
}

describe.skipIf(!haveChromium)('two tabs of one user', { timeout: 120_000 }, () => {
  it("one tab's pins are not lost to another tab's write, nor replaced by it", async () => {
    const alice = await start(browser, server, 'alice');
    const first = await start(browser, server, 'bob');
    // a second tab of bob in the same browser, logged in before anyone is pinned; its stream is
    // down, so that it does not read (and pin) what the first tab reads
    const second = await first.page.context().newPage();
    await second.route('**/events', (route) => route.abort());
    await second.goto(server.url);
    await logIn(second, 'bob');

    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByLabel('Invitees').fill('bob');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await first.page.getByRole('button', { name: /invited$/ }).click();
    await first.page.getByRole('button', { name: 'Join' }).click();
    await alice.page.getByText(/^Members: alice, bob$/).waitFor();
    await alice.page.getByLabel('Message', { exact: true }).fill('pinned in the first tab');
    await alice.page.getByRole('button', { name: 'Send' }).click();
    await log(first.page).getByText('pinned in the first tab').waitFor();
    const chat = (await first.page.locator('#chat-title').getAttribute('data-chat-id')) ?? '';
    const pinned = (await savedState(first.page, 'bob')).users.alice;
    expect(pinned).toBeDefined();

    // the second tab writes (a chat of its own) without ever having seen alice's pin
    await second.getByRole('button', { name: 'New chat' }).click();
    await second.getByLabel('Invitees').fill('alice');
    await second.getByRole('button', { name: 'Start chat' }).click();
    await second.getByText('Epoch 1', { exact: true }).waitFor();
    expect((await savedState(second, 'bob')).users.alice).toEqual(pinned);

    // a third tab, to which the server hands dave's keys as alice's: the pin made in the first
    // tab is what they are compared with
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'dave', password: PASSWORD }),
    });
    const { token } = (await login.json()) as { token: string };
    const dave = await (
      await fetch(`${server.url}/users/dave/keys`, { headers: { authorization: `Bearer ${token}` } })
    ).json();
    const third = await first.page.context().newPage();
    await third.route('**/users/alice/keys', (route) =>
      route.fulfill({ json: { ...dave, username: 'alice' } }),
    );
    await third.goto(server.url);
    await logIn(third, 'bob');
    await connected(third);
    await third.locator(`button[data-chat-id="${chat}"]`).click();
    const refused = log(third).getByRole('listitem').filter({ hasText: 'refused' });
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/alice's keys CHANGED/);
    expect((await savedState(first.page, 'bob')).users.alice).toEqual(pinned);
    await alice.page.context().close();
    await first.page.context().close();
  });
});

/** A user's registered keys as the server answers GET /users/{name}/keys. */
async function keysOf(user: string): Promise<{ fingerprints: Fingerprints } & Record<string, unknown>> {
  const login = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'erin', password: PASSWORD }),
  });
  const { token } = (await login.json()) as { token: string };
  const res = await fetch(`${server.url}/users/${user}/keys`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return res.json();
}

describe.skipIf(!haveChromium)('trusting a changed key', { timeout: 120_000 }, () => {
  it('"Trust new key" pins exactly the fingerprints its warning shows, never ones fetched after', async () => {
    const carol = await keysOf('carol');
    const dave = await keysOf('dave');
    const shownSet = await keySetFingerprint(carol.fingerprints);
    const page = await (await browser.newContext()).newPage();
    // carol and dave were pinned (here: with other keys) before, so both now show as changed
    await page.goto(server.url);
    const fake = {
      encryption: '0'.repeat(64),
      'rsa-pss-sha256': '1'.repeat(64),
      'dsa-sha256': '2'.repeat(64),
      ed25519: '3'.repeat(64),
    };
    await page.evaluate(
      (users) =>
        new Promise<void>((resolve, reject) => {
          const open = indexedDB.open('securechat', 1);
          open.onupgradeneeded = () => open.result.createObjectStore('kv');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const tx = open.result.transaction('kv', 'readwrite');
            tx.objectStore('kv').put({ servers: {}, users, epochs: {}, envelopes: {} }, 'state/bob');
            tx.oncomplete = () => {
              open.result.close();
              resolve();
            };
          };
        }),
      { carol: fake, dave: fake },
    );
    // the server: a message of each in the history; carol's keys as shown until `swap`, then
    // dave's; dave's keys held while `hold` is set
    let swap = false;
    let hold: (() => void) | undefined;
    let held: () => void = () => undefined;
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    await page.route('**/chats/*/messages?*', (route) => {
      const chatId = new URL(route.request().url()).pathname.split('/')[2];
      return route.fulfill({ json: { messages: [forged(chatId, 1, 'carol'), forged(chatId, 2, 'dave')] } });
    });
    await page.route('**/users/carol/keys', (route) =>
      route.fulfill({ json: swap ? { ...dave, username: 'carol' } : carol }),
    );
    await page.route('**/users/dave/keys', async (route) => {
      if (hold) {
        await new Promise<void>((resolve) => {
          hold = resolve;
          held();
        });
      }
      return route.fulfill({ json: dave });
    });
    await logIn(page, 'bob');
    await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'bob'));
    await connected(page);
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByLabel('Invitees').fill('nobody');
    await page.getByRole('button', { name: 'Start chat' }).click();
    const warning = page.getByRole('alert').filter({ hasText: "carol's keys changed" });
    await warning.getByText(shownSet, { exact: true }).waitFor();
    await page.getByRole('alert').filter({ hasText: "dave's keys changed" }).waitFor();

    // the server swaps carol's keys and holds the next render on dave's, while the old table shows
    swap = true;
    hold = () => undefined;
    const carolFetched = page.waitForResponse('**/users/carol/keys');
    await page.getByText('Fingerprints', { exact: true }).click(); // a render
    await holding;
    await carolFetched;
    expect(await warning.getByText(shownSet, { exact: true }).count()).toBe(1); // still shown
    await warning.getByRole('button', { name: 'Trust new key of carol' }).click();
    await warning.getByText(/nothing trusted/).waitFor();
    expect((await savedState(page, 'bob')).users.carol).toEqual(fake);
    (hold as () => void)();
    await page.context().close();
  });
});

describe.skipIf(!haveChromium)('a changed server key', { timeout: 120_000 }, () => {
  it('is refused at login once pinned: nothing is opened under it', async () => {
    const web = await start(browser, server, 'dave');
    await web.page.getByRole('button', { name: 'Log out' }).click();
    const other = await keysOf('alice');
    let token = '';
    await web.page.route('**/server/key', (route) => {
      token = (route.request().headers().authorization ?? '').slice('Bearer '.length);
      return route.fulfill({
        json: {
          algorithm: 'rsa-pss-sha256',
          publicKey: (other.signingKeys as Record<string, string>)['rsa-pss-sha256'],
        },
      });
    });
    // (not logIn(): the page may be back at the login before "Log out" is seen)
    await web.page.getByLabel('Username').fill('dave');
    await web.page.getByLabel('Password').fill(PASSWORD);
    await web.page.getByRole('button', { name: 'Log in' }).click();
    await web.page
      .getByRole('alert')
      .filter({ hasText: "WARNING: the server's signing key CHANGED" })
      .waitFor();
    expect(await web.page.getByRole('region', { name: 'Online' }).count()).toBe(0);
    // and logged out at once: back at the login, the token revoked
    await web.page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(token).not.toBe('');
    const res = await fetch(`${server.url}/users/online`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    expect(res.status).toBe(401);
    await web.page.context().close();
  });
});

describe.skipIf(!haveChromium)('a long history', { timeout: 120_000 }, () => {
  it("is checked message by message: a sender's keys are fetched (and pinned) once, not once per message", async () => {
    const page = await (await browser.newContext()).newPage();
    await page.route('**/chats/*/messages?*', (route) => {
      const chatId = new URL(route.request().url()).pathname.split('/')[2];
      return route.fulfill({
        json: { messages: Array.from({ length: 30 }, (_, i) => forged(chatId, i + 1, 'carol')) },
      });
    });
    let fetched = 0;
    page.on('request', (request) => {
      if (request.url().endsWith('/users/carol/keys')) fetched++;
    });
    await page.goto(server.url);
    await logIn(page, 'erin');
    await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'erin'));
    await connected(page);
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByLabel('Invitees').fill('nobody');
    await page.getByRole('button', { name: 'Start chat' }).click();
    const refused = log(page).getByRole('listitem').filter({ hasText: 'refused' });
    await refused.nth(29).waitFor();
    expect(await refused.count()).toBe(30);
    expect(fetched).toBe(1);
    await page.context().close();
  });
});
