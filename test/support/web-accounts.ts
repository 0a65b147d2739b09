import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { Api, Client, importUserKeys, keyStoreFingerprints, MemoryStores } from '../../src/client/index.js';
import { nodeSignatures } from '../../src/client/node/index.js';
import { readKeyStore } from '../../src/crypto/keystore.js';
import { Api as SpecApi } from './client.js';
import { PASSWORD, type TestServer } from './helper.js';
import { followed } from './library.js';

/** The page's account actions (web/src/account.ts) as tests drive and check them. */

const run = promisify(execFile);

/** Another session of `username` (a terminal, say), on the spec-checking caller. */
export async function loginElsewhere(server: TestServer, username: string, password = PASSWORD) {
  const api = new SpecApi(server.url);
  const res = await api.call('login', { body: { username, password } });
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  api.token = res.body.token;
  return api;
}

/** A peer on the client library, with the server's fixture key store, following its stream. */
export async function libraryPeer(server: TestServer, username: string) {
  const provider = nodeSignatures();
  const stores = new MemoryStores();
  const client = await Client.login({
    api: new Api({ server: server.url }),
    username,
    password: PASSWORD,
    keys: await importUserKeys(await readKeyStore(path.join(server.keysDir, 'users', username)), provider),
    provider,
    pins: stores,
    epochs: stores,
  });
  const feed = followed(client.api, (event) => client.commits.handleKeyEvent(event).then(() => {}));
  feed.done.catch(() => {});
  await feed.open;
  return {
    client,
    feed,
    close: async () => {
      await client.close().catch(() => {});
      await feed.close().catch(() => {});
    },
  };
}

/** Opens the page's Account dialog. */
export async function openAccount(page: Page) {
  await page.getByRole('button', { name: 'Account' }).click();
  return page.getByRole('dialog', { name: /^Account / });
}

/** How many key sets the page set aside for `username` (IndexedDB, keyring.ts); undefined for none. */
export function keysSetAside(page: Page, username: string) {
  return page.evaluate(
    (key) =>
      new Promise<number | undefined>((resolve, reject) => {
        const open = indexedDB.open('securechat');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('kv').objectStore('kv').get(key);
          get.onerror = () => reject(get.error);
          get.onsuccess = () => resolve(Array.isArray(get.result) ? get.result.length : undefined);
        };
      }),
    `keys-replaced/${username}`,
  );
}

/**
 * The key store the page offers (Download key store), saved and unpacked into `dir` as a terminal
 * would: its file name and the fingerprints of the keys in it.
 */
export async function downloadedKeyStore(page: Page, username: string, dir: string) {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Download key store' }).click(),
  ]);
  await mkdir(dir, { recursive: true });
  await download.saveAs(path.join(dir, 'keystore.tar'));
  await run('tar', ['-xf', path.join(dir, 'keystore.tar'), '-C', dir]);
  return {
    name: download.suggestedFilename(),
    fingerprints: await keyStoreFingerprints(await readKeyStore(path.join(dir, 'users', username))),
  };
}
