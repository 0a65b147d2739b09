import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from '../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../support/helper.js';
import { haveChromium, launch } from '../support/web.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

describe.skipIf(!haveChromium)('Swagger UI at /docs, in headless Chromium', () => {
  it('logs in through "Authorize" and calls an operation under the security headers', async () => {
    const token = (
      await new Api(server.url).call('login', { body: { username: 'alice', password: PASSWORD } })
    ).body.token;
    const browser = await launch();
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      await page.goto(`${server.url}/docs`);
      await page
        .getByRole('button', { name: /Authorize/ })
        .first()
        .click();
      await page.locator('.modal-ux input[type=text], .modal-ux input:not([type])').first().fill(token);
      await page.locator('.modal-ux button.authorize').click();
      await page.locator('.modal-ux button.btn-done, .modal-ux button.close-modal').first().click();

      await page.locator('#operations-users-listOnlineUsers').click();
      await page.locator('#operations-users-listOnlineUsers button.try-out__btn').click();
      await page.locator('#operations-users-listOnlineUsers button.execute').click();
      const status = page
        .locator('#operations-users-listOnlineUsers .live-responses-table tbody .response-col_status')
        .first();
      await expect.poll(async () => (await status.textContent())?.trim(), { timeout: 15_000 }).toBe('200');
      const body = await page
        .locator('#operations-users-listOnlineUsers .live-responses-table .microlight')
        .first()
        .textContent();
      expect(JSON.parse(body ?? '{}').users).toContain('alice');
      // the CSP let Swagger UI run: no violations reported
      expect(problems.filter((p) => /Content Security Policy/i.test(p))).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
