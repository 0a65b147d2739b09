/**
 * Accounts over time in the page (protocol.md): Change password, Log out everywhere and Replace
 * keys under Account, and Reset my account with a code on the login screen, each against the real
 * server, with its refusals; peers on the client library.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, KeyChangedError, type MessageData, resetKeys } from '../../../src/client/index.js';
import { generateKeyPairSet } from '../../../src/crypto/keys.js';
import { makeResetCode } from '../../../src/services/account-changes.js';
import { Api as SpecApi } from '../../support/client.js';
import { PASSWORD, tempDir } from '../../support/helper.js';
import {
  browser,
  connected,
  entry,
  haveChromium,
  log,
  openPage,
  send,
  server,
  start,
  useWebFixture,
} from '../../support/web.js';
import {
  downloadedKeyStore,
  keysSetAside,
  libraryPeer,
  loginElsewhere,
  openAccount,
} from '../../support/web-accounts.js';

/** Key generation in the page (RSA-3072 twice, DSA-2048 in BigInt) under a loaded machine. */
const KEYGEN_MS = 180_000;

useWebFixture({ TOKEN_TTL: '1h' });
let work: string;
const closers: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  work = await tempDir('securechat-webacc-');
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
});

const otherSession = (username: string, password?: string) => loginElsewhere(server, username, password);
const answers = async (api: SpecApi) => (await api.call('listChats')).status;
async function peer(username: string) {
  const p = await libraryPeer(server, username);
  closers.push(p.close);
  return p;
}
const registered = async (username: string) => (await server.app.store.getUser(username))?.keys;
/** The key store offered, downloaded: it is named for the user; its fingerprints. */
async function downloaded(page: Page, username: string, name: string) {
  const got = await downloadedKeyStore(page, username, path.join(work, name));
  expect(got.name).toBe(`${username}-keystore.tar`);
  return got.fingerprints;
}
/** A user's keys as the server serves them (with `changes`). */
const served = async (username: string) =>
  (await (await otherSession('bob')).call('getUserKeys', { params: { username } })).body;

describe.skipIf(!haveChromium)('the account actions of the page', { timeout: 400_000 }, () => {
  it('Change password: a wrong current password is said and changes nothing; the right one ends the other sessions only', async () => {
    const carol = await start(browser, server, 'carol');
    const other = await otherSession('carol');
    const part = (await openAccount(carol.page)).getByRole('region', { name: 'Change password' });
    const change = async (current: string, next: string) => {
      await part.getByLabel('Current password').fill(current);
      await part.getByLabel('New password', { exact: true }).fill(next);
      await part.getByLabel('Repeat new password').fill(next);
      await part.getByRole('button', { name: 'Change password' }).click();
    };
    await change('not the password', 'carol has a new one');
    const alert = part.getByRole('alert');
    await alert.filter({ hasText: /^Password not changed: .*\(401 INVALID_CREDENTIALS\)$/ }).waitFor();
    expect(await answers(other)).toBe(200);
    await otherSession('carol'); // the old password still logs in

    await change(PASSWORD, 'carol has a new one');
    await part
      .getByRole('status')
      .filter({ hasText: /^Password changed\. Every other session/ })
      .waitFor();
    expect(await alert.textContent()).toBe('');
    expect(await answers(other)).toBe(401);
    await otherSession('carol', 'carol has a new one');
    const refused = await new SpecApi(server.url).call('login', {
      body: { username: 'carol', password: PASSWORD },
    });
    expect(refused.status).toBe(401);
    // this page's session goes on: its stream is still up, and its requests are answered
    await connected(carol.page);
    const token = await carol.page.evaluate(
      () => JSON.parse(sessionStorage.getItem('securechat.session') ?? '{}').token,
    );
    const mine = new SpecApi(server.url);
    mine.token = token;
    expect(await answers(mine)).toBe(200);

    // wrong again and again: limited as a failed login is, and said with when to try again
    for (let i = 0; i < 6; i++) await change(`wrong ${i}`, 'carol has another one');
    await alert
      .filter({
        hasText: /^Password not changed: .*\(429 [A-Z_]+\)( Too many tries: try again (in \d+ s|later)\.)$/,
      })
      .waitFor();
    await carol.page.context().close();
  });

  it('Log out everywhere: the page is logged out, its kept session cleared, and every other session of the user refused', async () => {
    const dave = await start(browser, server, 'dave');
    const other = await otherSession('dave');
    const dialog = await openAccount(dave.page);
    await dialog.getByRole('button', { name: 'Log out everywhere' }).click();
    await dave.page
      .getByRole('alert')
      .filter({ hasText: 'You logged out everywhere: every session of yours has ended.' })
      .waitFor();
    await dave.page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(await dave.page.evaluate(() => sessionStorage.getItem('securechat.session'))).toBeNull();
    expect((await other.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    // a reload does not bring a session back
    await dave.page.reload();
    await dave.page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(dave.problems.filter((p) => !/status of 401/.test(p))).toEqual([]);
    await dave.page.context().close();
  });

  it('Replace keys: made here and offered, signed with the old key; peers are told so, and the page still reads its earlier messages after a reload', async () => {
    const alice = await start(browser, server, 'alice');
    const bob = await peer('bob');
    const { chat } = await bob.client.createChat(['alice']);
    await alice.page.getByRole('button', { name: /invited$/ }).click();
    await alice.page.getByRole('button', { name: 'Join' }).click();
    await alice.page.getByLabel('Message', { exact: true }).waitFor();
    await send(alice, 'said with the old keys', 'ed25519');
    await entry(alice, 'said with the old keys');
    const history = async () =>
      (await bob.client.api.listMessages(chat.id)).messages as unknown as MessageData[];
    const [old] = await history();
    expect(await bob.client.read(old, chat.id)).toBe('said with the old keys');
    const before = await registered('alice');

    // a wrong password: said, and nothing changed on the server or in the page
    const part = (await openAccount(alice.page)).getByRole('region', { name: 'Replace keys' });
    await part.getByLabel('Your password').fill('not the password');
    await part.getByRole('button', { name: 'Replace keys' }).click();
    await part.getByRole('status').filter({ hasText: 'Making keys… this can take a minute.' }).waitFor();
    await part
      .getByRole('alert')
      .filter({ hasText: /^Keys not replaced: the password is wrong \(.+\)$/ })
      .waitFor({ timeout: KEYGEN_MS });
    expect(await registered('alice')).toEqual(before);
    expect(await keysSetAside(alice.page, 'alice')).toBeUndefined();

    // the right one: the keys already made are registered, and offered with what peers will see
    await part.getByLabel('Your password').fill(PASSWORD);
    await part.getByRole('button', { name: 'Replace keys' }).click();
    await alice.page.getByRole('heading', { name: 'Keys replaced' }).waitFor();
    await alice.page
      .getByText(/The people you chat with are told that you replaced your keys, signed with your old key/)
      .waitFor();
    const now = await served('alice');
    expect(now.changes.at(-1)).toMatchObject({ by: 'user' });
    expect(now.changes.at(-1).previous.fingerprints).not.toEqual(now.fingerprints);
    expect(await downloaded(alice.page, 'alice', 'alice-new')).toEqual(now.fingerprints);
    expect(await keysSetAside(alice.page, 'alice')).toBe(1);
    await alice.page.getByRole('button', { name: 'Continue' }).click();
    await connected(alice.page);
    await send(alice, 'said with the new keys', 'rsa-pss-sha256');
    await entry(alice, 'said with the new keys');

    // bob: told, with the words for a replacement signed by the old key; reads once he accepts
    await bob.feed.next((e) => e.type === 'account.keys' && e.data.username === 'alice');
    const [, newer] = await history();
    const refusal = await bob.client.read(newer, chat.id).catch((e) => e);
    expect(refusal).toBeInstanceOf(KeyChangedError);
    expect(refusal.message).toContain('alice replaced their keys, signed with their old key');
    await bob.client.trust.fingerprints('alice');
    await bob.client.trust.trustUser('alice');
    expect(await bob.client.read(newer, chat.id)).toBe('said with the new keys');
    expect(await bob.client.read(old, chat.id)).toBe('said with the old keys');

    // after a reload, the page reads its earlier message with the old keys it kept aside
    await alice.page.reload();
    await connected(alice.page);
    expect(await entry(alice, 'said with the old keys')).toMatch(/alice \(Ed25519\) said with the old keys$/);
    expect(await entry(alice, 'said with the new keys')).toMatch(/alice \(RSA-PSS\) said with the new keys$/);
    expect(await log(alice.page).locator('.refused').count()).toBe(0);
    await alice.page.context().close();
  });

  it('Reset my account with a code: a used or a wrong code is the one refusal; the right one takes keys made here and the new password', async () => {
    // a code used already (a reset with keys made elsewhere), then sessions and a peer's pin after it
    const used = (await makeResetCode(server.app.store, 'erin')).code;
    await resetKeys(new Api({ server: server.url }), {
      username: 'erin',
      code: used,
      next: await generateKeyPairSet({ rsaBits: 2048 }),
    });
    const other = await otherSession('erin');
    const bob = await peer('bob');
    await bob.client.trust.peerKeys('erin');
    const before = await registered('erin');

    const { page, problems } = await openPage(browser, server);
    await page.getByRole('button', { name: 'Reset my account with a code' }).click();
    await page.getByLabel('Username').fill('erin');
    const alert = page.getByRole('alert');
    const reset = async (code: string) => {
      await page.getByLabel('Reset code').fill(code);
      const answered = page.waitForResponse((r) => r.url().endsWith('/users/erin/keys'));
      await page.getByRole('button', { name: 'Reset my account' }).click();
      expect((await answered).status()).toBe(403);
      await alert.filter({ hasText: /^Not reset: / }).waitFor();
      return alert.textContent();
    };
    const usedLine = await reset(used);
    expect(usedLine).toMatch(/^Not reset: the code is wrong, used or expired \(.+\)$/);
    expect(await reset('not-a-code')).toBe(usedLine);
    expect(await registered('erin')).toEqual(before);
    expect(await answers(other)).toBe(200);

    // the right code, with a new password: the keys made for the first try
    const { code } = await makeResetCode(server.app.store, 'erin');
    await page.getByLabel('Reset code').fill(code);
    await page.getByLabel('New password (optional)').fill('erin starts again');
    await page.getByLabel('Repeat new password').fill('erin starts again');
    await page.getByRole('button', { name: 'Reset my account' }).click();
    await page.getByRole('heading', { name: 'Account erin reset' }).waitFor();
    await page
      .getByText(/The people you chat with are told that the administrator reset your keys/)
      .waitFor();
    const now = await served('erin');
    expect(now.changes.at(-1)).toMatchObject({ by: 'administrator' });
    expect(await downloaded(page, 'erin', 'erin-new')).toEqual(now.fingerprints);
    expect((await other.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    // on with the new password, and the keys kept here: no key store to pick
    await page.getByRole('button', { name: 'Continue' }).click();
    await connected(page);
    await page.getByText('Logged in as erin').waitFor();
    // bob is told it was the administrator
    bob.client.trust.forget('erin');
    const refusal = await bob.client.trust.peerKeys('erin').catch((e) => e);
    expect(refusal).toBeInstanceOf(KeyChangedError);
    expect(refusal.message).toContain("erin's keys were reset by the administrator");
    expect(problems.filter((p) => !/status of 403/.test(p))).toEqual([]);
    await page.context().close();
  }, 400_000);
});
