import { afterAll, describe, expect, it } from 'vitest';
import { CliProcess } from '../../../scripts/child.js';
import { keySetFingerprint } from '../../../src/client/index.js';
import { onDatabase } from '../../support/chats.js';
import { PASSWORD } from '../../support/helper.js';
import {
  browser,
  connected,
  entry,
  haveChromium,
  log,
  logIn,
  send,
  server,
  start,
  useWebFixture,
  type WebUser,
} from '../../support/web.js';

useWebFixture();

describe.skipIf(!haveChromium)('the web client at /, in headless Chromium', { timeout: 120_000 }, () => {
  let alice: WebUser;
  let bob: WebUser;
  let carol!: CliProcess;

  afterAll(() => carol?.kill());

  it('two browsers and a CLI user chat; every message verified in the page, DSA included', async () => {
    alice = await start(browser, server, 'alice');
    bob = await start(browser, server, 'bob');

    // presence, live: each sees the other in the Online region
    await alice.page.getByRole('region', { name: 'Online' }).getByText('bob', { exact: true }).waitFor();
    await bob.page.getByRole('region', { name: 'Online' }).getByText('alice', { exact: true }).waitFor();

    // a chat with one online and one unknown invitee (offline ones: test/e2e/web/offline-invitees.test.ts)
    expect(await alice.page.getByLabel('Invitees').isVisible()).toBe(false); // until New chat
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByLabel('Invitees').fill('bob nobody');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await alice.page.getByText('there is no user nobody: not invited.').waitFor();
    await alice.page.getByText('Epoch 1', { exact: true }).waitFor();

    // the invitation arrives; bob joins
    await bob.page.getByRole('button', { name: /invited$/ }).click();
    await bob.page.getByRole('button', { name: 'Join' }).click();
    await bob.page.getByLabel('Message', { exact: true }).waitFor();
    await alice.page.getByText(/^Members: alice, bob$/).waitFor();

    await send(alice, 'hello bob, RSA-PSS here', 'rsa-pss-sha256');
    expect(await entry(bob, 'hello bob, RSA-PSS here')).toMatch(/alice \(RSA-PSS\) hello bob, RSA-PSS here$/);
    await send(bob, 'hi alice <b>not bold</b>, Ed25519 here', 'ed25519');
    expect(await entry(alice, 'Ed25519 here')).toMatch(
      /bob \(Ed25519\) hi alice <b>not bold<\/b>, Ed25519 here$/,
    );
    // text is text: the markup arrived as characters, not as an element
    expect(await log(alice.page).locator('b', { hasText: 'not bold' }).count()).toBe(0);
    // the scheme picked is kept (per browser) until changed
    await bob.page.reload();
    await logIn(bob.page, 'bob');
    await connected(bob.page);
    expect(await bob.page.getByLabel('Signature', { exact: true }).count()).toBe(0); // no chat open yet
    await bob.page.getByRole('button', { name: /^alice/ }).click();
    expect(await bob.page.getByLabel('Signature').inputValue()).toBe('ed25519');

    // carol, a CLI user, is invited from the page and joins in her terminal
    carol = new CliProcess(['--user', 'carol', '--password-stdin'], {
      SECURECHAT_SERVER: server.url,
      SECURECHAT_KEYS_DIR: server.keysDir,
    });
    carol.send(PASSWORD);
    await carol.waitFor(/\* connected$/);
    await alice.page.getByRole('region', { name: 'Online' }).getByText('carol', { exact: true }).waitFor();
    await alice.page.getByLabel('Invite users').fill('carol');
    await alice.page.getByRole('button', { name: 'Invite' }).click();
    await carol.waitFor(/alice invited you to chat/);
    carol.send('join');
    await carol.waitFor(/^joined chat/);
    await alice.page.getByText('Epoch 2', { exact: true }).waitFor();

    carol.send('sig dsa');
    await carol.waitFor(/now signing with dsa/);
    carol.send('DSA from the terminal');
    for (const web of [alice, bob])
      expect(await entry(web, 'DSA from the terminal')).toMatch(/carol \(DSA\) DSA from the terminal$/);

    await send(alice, 'all three of us (RSA-PSS)', 'rsa-pss-sha256');
    await send(bob, 'all three of us (Ed25519)', 'ed25519');
    await carol.waitFor(/alice \(rsa\): all three of us \(RSA-PSS\)$/);
    await carol.waitFor(/bob \(ed25519\): all three of us \(Ed25519\)$/);
    expect(await entry(bob, 'all three of us (RSA-PSS)')).toMatch(/alice \(RSA-PSS\)/);
    expect(await entry(alice, 'all three of us (Ed25519)')).toMatch(/bob \(Ed25519\)/);

    // no refusal anywhere, and no console error under the server's CSP
    for (const web of [alice, bob]) {
      expect(
        await log(web.page)
          .getByText(/refused/)
          .count(),
      ).toBe(0);
      expect(web.problems).toEqual([]);
    }
  });

  it('a message changed in the database shows as refused; a reload keeps the keys and the history', async () => {
    // message 1 (alice's, RSA-PSS) gets message 2's ciphertext: its signature no longer covers it
    await onDatabase(
      server,
      `UPDATE messages SET ciphertext = (SELECT m2.ciphertext FROM messages m2
         WHERE m2.chat_id = messages.chat_id AND m2.seq = 2) WHERE seq = 1`,
    );
    await bob.page.reload();
    await logIn(bob.page, 'bob');
    // the keys were kept in IndexedDB: no key store asked for
    await connected(bob.page);
    expect(await bob.page.getByLabel('Key store', { exact: true }).count()).toBe(0);
    await bob.page.getByRole('button', { name: /^alice/ }).click();
    const refused = await entry(bob, 'refused');
    expect(refused).toMatch(/Message #1 from alice refused: the rsa-pss-sha256 signature does not verify/);
    expect(refused).not.toContain('hello bob');
    // the rest of the history is there, verified
    expect(await entry(bob, 'DSA from the terminal')).toMatch(/carol \(DSA\)/);
    expect(await entry(bob, 'all three of us (Ed25519)')).toMatch(/bob \(Ed25519\)/);
    expect(
      await log(bob.page)
        .getByText(/refused/)
        .count(),
    ).toBe(1);
    expect(bob.problems.filter((p) => /Content Security Policy/i.test(p))).toEqual([]);
  });

  it("a peer's changed key is warned about; their messages are refused until trusted", async () => {
    // the server (or someone in between) now hands out dave's keys as carol's
    const dave = await (
      await fetch(`${server.url}/users/dave/keys`, { headers: await authOf('dave') })
    ).json();
    await bob.page.route('**/users/carol/keys', (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ ...dave, username: 'carol' }),
      }),
    );
    await bob.page.reload();
    await logIn(bob.page, 'bob');
    await connected(bob.page);
    await bob.page.getByRole('button', { name: /^alice/ }).click();
    expect(await entry(bob, 'from carol refused')).toMatch(/carol's keys CHANGED since you first saw them/);
    expect(await log(bob.page).getByText('DSA from the terminal').count()).toBe(0);
    const warning = bob.page.getByRole('alert').filter({ hasText: "carol's keys changed" });
    await warning.waitFor();
    // trusting deliberately: the new keys are pinned, and carol's message is tried again under them
    await bob.page.getByRole('button', { name: /Trust new key/ }).click();
    await warning.waitFor({ state: 'detached' });
    expect(await entry(bob, 'from carol refused')).toMatch(/dsa-sha256 signature does not verify/);
  });

  it('several chats at once; Leave rotates the key for those who stay', async () => {
    await bob.page.getByRole('button', { name: 'New chat' }).click();
    await bob.page.getByLabel('Invitees').fill('alice');
    await bob.page.getByRole('button', { name: 'Start chat' }).click();
    await alice.page.getByRole('button', { name: /^bob · .* · invited$/ }).click();
    await alice.page.getByRole('button', { name: 'Join' }).click();
    await send(alice, 'in the second chat', 'ed25519');
    expect(await entry(bob, 'in the second chat')).toMatch(/alice \(Ed25519\)/);
    await bob.page.getByRole('button', { name: /^alice, carol/ }).click();
    await bob.page.getByRole('button', { name: 'Leave' }).click();
    await bob.page.getByRole('button', { name: /^alice, carol/ }).waitFor({ state: 'detached' });
    await alice.page.getByRole('button', { name: /^carol · / }).click(); // bob is no longer a member
    await log(alice.page).getByText('bob left').waitFor();
    await alice.page.getByText('Epoch 3', { exact: true }).waitFor();
    await carol.waitFor(/bob left/);

    expect(alice.problems).toEqual([]);
  });

  it("a new browser of the same user reads every epoch's history; fingerprints and status on demand", async () => {
    // a fresh context: nothing kept, so older epochs' keys are asked for with GET /chats/{id}/key?epoch=n
    const again = await start(browser, server, 'alice');
    await again.page.getByRole('button', { name: /^carol · / }).click();
    expect(await entry(again, 'not bold')).toMatch(/bob \(Ed25519\) hi alice/); // epoch 1
    expect(await entry(again, 'DSA from the terminal')).toMatch(/carol \(DSA\)/); // epoch 2
    expect(await entry(again, 'refused')).toMatch(/^.*Message #1 from alice refused/); // still tampered
    await again.page.getByText('Epoch 3', { exact: true }).waitFor();

    const registered = await (
      await fetch(`${server.url}/users/alice/keys`, { headers: await authOf('dave') })
    ).json();
    await again.page.getByText('Fingerprints', { exact: true }).click();
    await again.page
      .getByText(await keySetFingerprint(registered.fingerprints), { exact: true })
      .first()
      .waitFor();
    await again.page.getByText(registered.fingerprints.ed25519, { exact: true }).first().waitFor();

    await again.page.getByLabel('Status of').fill('erin');
    await again.page.getByRole('button', { name: 'Status', exact: true }).click();
    await again.page.getByText(/^erin is offline/).waitFor();
    await again.page.getByLabel('Status of').fill('bob');
    await again.page.getByRole('button', { name: 'Status', exact: true }).click();
    await again.page.getByText('bob is online', { exact: true }).waitFor();
    expect(again.problems).toEqual([]);
  });
});

/** A bearer header for a user, logged in over the API. */
async function authOf(user: string): Promise<Record<string, string>> {
  const res = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: user, password: PASSWORD }),
  });
  return { authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
}
