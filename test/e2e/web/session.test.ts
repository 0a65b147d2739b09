import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PASSWORD, withServer } from '../../support/helper.js';
import {
  browser,
  connected,
  haveChromium,
  keyFiles,
  logIn,
  openPage,
  restartServer,
  server,
  start,
  useWebFixture,
} from '../../support/web.js';

useWebFixture();

/** The token the page sends, read from its own /events request. */
function tokenOf(page: Page): Promise<string> {
  return new Promise((resolve) => {
    const seen = (request: import('playwright-core').Request) => {
      const auth = request.headers().authorization;
      if (request.url().endsWith('/events') && auth) {
        page.off('request', seen);
        resolve(auth.slice('Bearer '.length));
      }
    };
    page.on('request', seen);
  });
}

/** What the server says of a token now: 200 while it is live, 401 once revoked. */
async function statusWith(token: string): Promise<number> {
  const res = await fetch(`${server.url}/users/online`, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

describe.skipIf(!haveChromium)('sessions and key stores in the page', { timeout: 120_000 }, () => {
  it("refuses a key store that is not the user's registered keys, and keeps nothing", async () => {
    const web = await openPage(browser, server);
    await logIn(web.page, 'dave');
    await web.page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'erin'));
    await web.page
      .getByRole('alert')
      .filter({
        hasText:
          "These are not dave's keys: the encryption, rsa-pss-sha256, ed25519 key's fingerprint differs",
      })
      .waitFor();
    await web.page
      .getByLabel('Key store', { exact: true })
      .setInputFiles(keyFiles(server, 'dave').slice(0, 2));
    await web.page.getByRole('alert').filter({ hasText: 'Missing signing-ed25519.key.pem' }).waitFor();
    expect(await web.page.getByRole('region', { name: 'Online' }).count()).toBe(0);
    // nothing was kept: after a reload the page asks again
    await web.page.reload();
    await logIn(web.page, 'dave');
    await web.page.getByLabel('Key store', { exact: true }).waitFor();
    // the whole folder this time (Chromium allows it): only the three private keys are read
    await web.page
      .getByLabel('Or the key store folder')
      .setInputFiles(path.dirname(keyFiles(server, 'dave')[0]));
    await connected(web.page);
    expect(web.problems).toEqual([]);
    await web.page.context().close();
  });

  it('is driven by keyboard alone: Tab to each field, Enter to log in', async () => {
    const web = await openPage(browser, server);
    await web.page.keyboard.press('Tab');
    await web.page.keyboard.type('erin');
    await web.page.keyboard.press('Tab');
    await web.page.keyboard.type('not the password');
    await web.page.keyboard.press('Enter');
    await web.page
      .getByRole('alert')
      .filter({ hasText: 'login failed: unknown user or wrong password' })
      .waitFor();
    await web.page.getByLabel('Password').fill('');
    await web.page.getByLabel('Password').focus();
    await web.page.keyboard.type(PASSWORD);
    await web.page.keyboard.press('Enter');
    await web.page.getByRole('button', { name: 'Log out' }).waitFor();
    await web.page.getByRole('button', { name: 'Log out' }).focus();
    await web.page.keyboard.press('Enter');
    await web.page.getByRole('button', { name: 'Log in' }).waitFor();
    await web.page.context().close();
  });

  it('Log out and closing the page revoke the token; Forget keys removes the keys', async () => {
    const web = await openPage(browser, server);
    let token = tokenOf(web.page);
    await logIn(web.page, 'carol');
    await web.page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'carol'));
    await connected(web.page);
    const first = await token;
    expect(await statusWith(first)).toBe(200);
    await web.page.getByRole('button', { name: 'Log out' }).click();
    await web.page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(await statusWith(first)).toBe(401);

    // the keys were kept: logging in again goes straight to the chats
    token = tokenOf(web.page);
    await logIn(web.page, 'carol');
    await connected(web.page);
    const second = await token;
    expect(await statusWith(second)).toBe(200);
    // closing the tab: the session worker revokes it shortly after (no page came back)
    await web.page.close({ runBeforeUnload: true });
    await expect.poll(() => statusWith(second), { timeout: 30_000 }).toBe(401);

    const again = await web.page.context().newPage();
    await again.goto(server.url);
    await logIn(again, 'carol');
    await connected(again);
    await again.getByRole('button', { name: 'Forget keys' }).click();
    await again.getByRole('button', { name: 'Forget keys for good' }).click();
    await again.getByRole('button', { name: 'Log in' }).waitFor();
    await logIn(again, 'carol');
    await again.getByLabel('Key store', { exact: true }).waitFor();
    await again.context().close();
  });

  it('shows "reconnecting" while the server is away, and resumes', async () => {
    const web = await start(browser, server, 'alice');
    // every state the page shows, recorded as it changes
    await web.page.evaluate(() => {
      const el = document.getElementById('connection') as HTMLElement;
      const states: string[] = [];
      (window as unknown as { states: string[] }).states = states;
      new MutationObserver(() => states.push(el.dataset.state ?? '')).observe(el, { attributes: true });
    });
    const states = () =>
      web.page.evaluate(() => (window as unknown as { states: string[] }).states.join(' '));
    await restartServer();
    await expect.poll(states, { timeout: 20_000 }).toMatch(/reconnecting.* connected$/);
    await expect(web.page.locator('#connection').textContent()).resolves.toBe('Connected');
    expect(web.problems.filter((p) => !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(p))).toEqual([]);
    await web.page.context().close();
  });

  it('works over the self-signed HTTPS mode', async () => {
    await withServer({ SECURECHAT_TLS: 'self-signed' }, async (tls) => {
      expect(tls.url).toMatch(/^https:/);
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      await page.goto(tls.url);
      await logIn(page, 'bob', PASSWORD);
      await page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(tls, 'bob'));
      await connected(page);
      // a certificate the browser does not trust gets no service worker: the page does without
      // (closing the tab revokes the token at once, a reload logs out)
      expect(
        problems.filter((p) => p !== 'An SSL certificate error occurred when fetching the script.'),
      ).toEqual([]);
      await context.close();
    });
  });
});

describe.skipIf(!haveChromium)('a session that ends', { timeout: 120_000 }, () => {
  it('a revoked token takes the page back to the login, with nothing of the session left on it', async () => {
    const web = await openPage(browser, server);
    const token = new Promise<string>((resolve) =>
      web.page.on('request', (request) => {
        const auth = request.headers().authorization;
        if (request.url().endsWith('/events') && auth) resolve(auth.slice('Bearer '.length));
      }),
    );
    await logIn(web.page, 'erin');
    await web.page.getByLabel('Key store', { exact: true }).setInputFiles(keyFiles(server, 'erin'));
    await connected(web.page);
    await web.page.getByRole('region', { name: 'Online' }).waitFor();
    // revoked elsewhere (or expired): the server ends the stream, and the token is refused
    const res = await fetch(`${server.url}/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token}` },
    });
    expect(res.status).toBe(204);
    await web.page
      .getByRole('alert')
      .filter({ hasText: /^Your session ended \(.*\): log in again\.$/ })
      .waitFor();
    await web.page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(await web.page.getByRole('region', { name: 'Online' }).count()).toBe(0);
    expect(await web.page.getByRole('button', { name: 'Log out' }).count()).toBe(0);
    await web.page.context().close();
  });
});
