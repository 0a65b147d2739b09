import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { composeMessage, type KeyHandle } from '../../../src/client/index.js';
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

describe.skipIf(!haveChromium)('the key store in the page', { timeout: 120_000 }, () => {
  it('checks a key store against the registered keys without an extractable private key', async () => {
    const context = await browser.newContext();
    // every call that would make a private key readable, recorded before the page's own code runs
    await context.addInitScript(() => {
      const subtle = crypto.subtle;
      const seen: string[] = [];
      (window as unknown as { readable: string[] }).readable = seen;
      const importKey = subtle.importKey.bind(subtle);
      const exportKey = subtle.exportKey.bind(subtle);
      subtle.importKey = ((
        format: string,
        data: unknown,
        alg: unknown,
        extractable: boolean,
        usages: string[],
      ) => {
        if (format === 'pkcs8' && extractable)
          seen.push(`importKey pkcs8 extractable ${JSON.stringify(alg)}`);
        return importKey(
          format as 'raw',
          data as BufferSource,
          alg as AlgorithmIdentifier,
          extractable,
          usages as KeyUsage[],
        );
      }) as typeof subtle.importKey;
      subtle.exportKey = ((format: string, key: CryptoKey) => {
        if (key.type === 'private') seen.push(`exportKey ${format} of a private key`);
        return exportKey(format as 'raw', key);
      }) as typeof subtle.exportKey;
    });
    const page = await pageWithKeys(context, server, 'alice');
    await connected(page);
    expect(await page.evaluate(() => (window as unknown as { readable: string[] }).readable)).toEqual([]);
    // and what IndexedDB keeps cannot be read back either
    const kept = await page.evaluate(
      () =>
        new Promise<string[]>((resolve, reject) => {
          const open = indexedDB.open('securechat');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const get = open.result.transaction('kv').objectStore('kv').get('keys/alice');
            get.onerror = () => reject(get.error);
            get.onsuccess = () => {
              const keys = get.result.keys;
              resolve(
                [keys.encryption, ...Object.values(keys.signing)].map(
                  (k) => `${(k as CryptoKey).type} ${(k as CryptoKey).extractable}`,
                ),
              );
            };
          };
        }),
    );
    expect(kept).toEqual(['private false', 'private false', 'private false']);
    await context.close();
  });
});

describe.skipIf(!haveChromium)('picking the key store', { timeout: 120_000 }, () => {
  it("a folder holding several users' key stores is refused before any key in it is read", async () => {
    const context = await browser.newContext();
    await context.addInitScript(() => {
      const read: string[] = [];
      (window as unknown as { read: string[] }).read = read;
      const text = File.prototype.text;
      File.prototype.text = function (this: File) {
        read.push(this.webkitRelativePath || this.name);
        return text.call(this);
      };
    });
    const page = await context.newPage();
    await page.goto(server.url);
    await logIn(page, 'alice');
    const users = path.dirname(path.dirname(keyFiles(server, 'alice')[0]));
    await page.getByLabel('Or the key store folder').setInputFiles(users);
    await page
      .getByRole('alert')
      .filter({ hasText: /^Several files named [a-z0-9-]+\.key\.pem were picked/ })
      .waitFor();
    expect(await page.evaluate(() => (window as unknown as { read: string[] }).read)).toEqual([]);
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
