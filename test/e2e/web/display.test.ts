/**
 * The page shows what a peer or the server writes as the CLI does, by the same rule: bidi
 * controls, invisible format characters and other controls never raw, each as its code point
 * (`⟨U+202E⟩`), a newline kept only in a message's text (security round 2, #5).
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { member } from '../../support/members.js';
import {
  browser,
  connected,
  haveChromium,
  log,
  logIn,
  server,
  start,
  useWebFixture,
} from '../../support/web.js';

useWebFixture();

/** Every control and format character the rule escapes, as it could sit raw in the page. */
const RAW = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
/** What the page wrote (the header's status and account, the app), its newlines (message text's) aside. */
const pageText = (page: Page) =>
  page.evaluate(() =>
    ['connection', 'account', 'app']
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' ')
      .replace(/\n/g, ''),
  );

describe.skipIf(!haveChromium)(
  'what a peer or the server writes cannot pass for the page',
  { timeout: 120_000 },
  () => {
    it("a message's further lines and a refused message's sender never look like an entry of their own", async () => {
      const alice = await start(browser, server, 'alice');
      const bob = await start(browser, server, 'bob');
      await alice.page.getByRole('button', { name: 'New chat' }).click();
      await alice.page.getByLabel('Invitees').fill('bob');
      await alice.page.getByRole('button', { name: 'Start chat' }).click();
      await bob.page.getByRole('button', { name: /invited$/ }).click();
      await bob.page.getByRole('button', { name: 'Join' }).click();
      await alice.page.getByText(/^Members: alice, bob$/).waitFor();

      // a second line made to look like bob's next message
      await alice.page
        .getByLabel('Message', { exact: true })
        .fill('see you\n12:00:00 bob (Ed25519) I owe alice 100');
      await alice.page.getByRole('button', { name: 'Send' }).click();
      const entry = log(bob.page).getByRole('listitem').filter({ hasText: 'see you' });
      await entry.waitFor();
      const box = await entry.boundingBox();
      const text = await entry.locator('.text').boundingBox();
      // every line of the text is indented under its sender: none starts where an entry starts
      expect(text?.x).toBeGreaterThan((box?.x ?? 0) + 8);
      expect(await entry.locator('.text').evaluate((el) => getComputedStyle(el).unicodeBidi)).toBe('isolate');

      // the server sends a message whose "sender" is a line of its own
      await bob.page.route('**/chats/*/messages?*', (route) => {
        const id = new URL(route.request().url()).pathname.split('/')[2];
        return route.fulfill({
          json: {
            messages: [
              {
                chatId: id,
                seq: 99,
                sender: 'x\n12:00:00 alice (Ed25519) please send me your password',
                receivedAt: new Date().toISOString(),
                message: {},
              },
            ],
          },
        });
      });
      await bob.page.reload();
      await logIn(bob.page, 'bob');
      await connected(bob.page);
      await bob.page.getByRole('button', { name: /^alice/ }).click();
      const refused = log(bob.page).getByRole('listitem').filter({ hasText: 'refused' });
      await refused.waitFor();
      const said = (await refused.textContent()) ?? '';
      expect(said).toMatch(/^refused Message #99 from an invalid sender refused: /);
      expect(said).not.toContain('\n');
      expect(said).not.toContain('your password');
      await alice.page.context().close();
      await bob.page.context().close();
    });
  },
);

describe.skipIf(!haveChromium)(
  'what a peer or the server writes, shown in the page',
  { timeout: 120_000 },
  () => {
    it("a message's bidi controls and invisible format characters show as code points, its newlines as newlines", async () => {
      const bob = await start(browser, server, 'bob');
      const alice = await member(server, 'alice');
      const { chat } = await alice.client.createChat(['bob']);
      await bob.page.getByRole('button', { name: /invited$/ }).click();
      await bob.page.getByRole('button', { name: 'Join' }).click();
      await bob.page.getByRole('button', { name: 'Invite' }).waitFor();
      await alice.client.send(
        chat.id,
        'pay \u202eevil\u202c to a\u200db\u200bc \u2066x\u2067y\u2068z\u2069 \u200el\u200fr \ufeffend\nline two\x1b[2J',
        'ed25519',
      );
      const text = log(bob.page).getByRole('listitem').filter({ hasText: 'line two' }).locator('.text');
      await text.waitFor();
      expect(await text.textContent()).toBe(
        'pay ⟨U+202E⟩evil⟨U+202C⟩ to a⟨U+200D⟩b⟨U+200B⟩c ⟨U+2066⟩x⟨U+2067⟩y⟨U+2068⟩z⟨U+2069⟩ ⟨U+200E⟩l⟨U+200F⟩r ⟨U+FEFF⟩end\nline two⟨U+001B⟩[2J',
      );
      // found by what a person (or a screen reader) is given: the code point, never the character
      await log(bob.page).getByText('pay ⟨U+202E⟩evil⟨U+202C⟩ to', { exact: false }).waitFor();
      expect(await pageText(bob.page)).not.toMatch(RAW);
      await alice.close();
      await bob.page.context().close();
    });

    it("a server's problem detail and an event it refused show their controls as code points", async () => {
      const bob = await start(browser, server, 'bob');
      await bob.page.route('**/users/*/status', (route) =>
        route.fulfill({
          status: 404,
          contentType: 'application/problem+json',
          body: JSON.stringify({
            type: 'about:blank',
            title: 'Not Found',
            status: 404,
            code: 'NOT\u2066FOUND',
            detail: 'nobody \u202eereh\u202c\nby\u200b that name\ufeff',
          }),
        }),
      );
      const online = bob.page.getByRole('region', { name: 'Online' });
      await online.getByLabel('Status of').fill('carol');
      await online.getByRole('button', { name: 'Status' }).click();
      await online
        .getByRole('status')
        .getByText('nobody ⟨U+202E⟩ereh⟨U+202C⟩⟨U+000A⟩by⟨U+200B⟩ that name⟨U+FEFF⟩ (404 NOT⟨U+2066⟩FOUND)', {
          exact: true,
        })
        .waitFor();

      // the stream carries an event whose name is not a username: refused, and said with code points
      let sent = false;
      await bob.page.route('**/events', (route) => {
        if (sent) return route.fallback();
        sent = true;
        const data = JSON.stringify({ username: 'eve\u202e\u2066nimda', online: true });
        return route.fulfill({
          status: 200,
          contentType: 'text/event-stream',
          body: `id: 1000000\nevent: presence\ndata: ${data}\n\n`,
        });
      });
      await bob.page.reload();
      await logIn(bob.page, 'bob');
      await bob.page
        .getByRole('region', { name: 'Chats' })
        .getByRole('status')
        .getByText(
          'presence event refused: malformed: username "eve⟨U+202E⟩⟨U+2066⟩nimda" is not a username',
          {
            exact: true,
          },
        )
        .waitFor();
      expect(await pageText(bob.page)).not.toMatch(RAW);
      await bob.page.context().close();
    });
  },
);
