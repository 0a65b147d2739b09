/**
 * A reload keeps the session and the chat open; closing the tab still ends the session (issue 24,
 * item 6). `pagehide` cannot tell the two apart: the page hands its token to a service worker that
 * revokes it shortly after, unless the same tab's page comes back and says so.
 */
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../support/helper.js';
import { member } from '../../support/members.js';
import { connected, haveChromium, keyFiles, launch, log, logIn, openPage } from '../../support/web.js';

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

/** The tokens the page sends on its /events requests, in order. */
function tokens(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (request: Request) => {
    const auth = request.headers().authorization;
    if (request.url().endsWith('/events') && auth) seen.push(auth.slice('Bearer '.length));
  });
  return seen;
}

/** What the server says of a token now: 200 while it is live, 401 once revoked. */
async function statusWith(token: string): Promise<number> {
  const res = await fetch(`${server.url}/users/online`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** The service worker's grace for a page to come back (web/src/workers/session-keeper.ts). */
const GRACE_MS = 10_000;

describe.skipIf(!haveChromium)('reloading the page', { timeout: 120_000 }, () => {
  it('keeps the session and the open chat; closing the last tab ends the session', async () => {
    const alice = await member(server, 'alice');
    const web = await openPage(browser, server);
    const page = web.page;
    const seen = tokens(page);
    await logIn(page, 'carol');
    await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'carol'));
    await connected(page);
    // invited once online (an offline invitee is not invited yet)
    const { chat } = await alice.client.createChat(['carol']);
    await page
      .getByRole('region', { name: 'Chats' })
      .getByRole('button', { name: /^alice/ })
      .click();
    await page.getByRole('button', { name: 'Join' }).first().click();
    await page.getByRole('button', { name: 'Invite' }).waitFor();
    await alice.client.send(chat.id, 'before the reload', 'ed25519');
    await log(page).getByText('before the reload').waitFor();
    const title = await page.locator('#chat-title').textContent();
    const token = seen[0];

    await page.reload();
    // no login: the same session, connected again, the same chat open with its history
    await connected(page);
    expect(await page.getByRole('button', { name: 'Log in' }).count()).toBe(0);
    await log(page).getByText('before the reload').waitFor();
    expect(await page.locator('#chat-title').textContent()).toBe(title);
    expect(seen.at(-1)).toBe(token);
    // past the worker's grace, the token still holds (the page came back in time); waiting is the
    // only way to see that a revocation did not happen
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 2_000));
    expect(await statusWith(token)).toBe(200);
    await alice.client.send(chat.id, 'after the reload', 'ed25519');
    await log(page).getByText('after the reload').waitFor();

    // closing the tab (the context's only page): the token is revoked after the grace
    await page.close({ runBeforeUnload: true });
    await expect.poll(() => statusWith(token), { timeout: GRACE_MS + 20_000 }).toBe(401);

    // Log out, then a reload: the login, nothing kept
    const again = await page.context().newPage();
    await again.goto(server.url);
    await logIn(again, 'carol');
    await connected(again);
    await again.getByRole('button', { name: 'Log out' }).click();
    await again.getByRole('button', { name: 'Log in' }).waitFor();
    await again.reload();
    await again.getByRole('button', { name: 'Log in' }).waitFor();
    expect(web.problems).toEqual([]);
    await alice.close();
    await again.context().close();
  });
});
