/**
 * Status lines go away when they no longer hold, or after a short time, and errors say what to do
 * (issue 24, item 4).
 */
import { describe, expect, it } from 'vitest';
import { member } from '../../support/members.js';
import { browser, haveChromium, openPage, server, start, useWebFixture } from '../../support/web.js';

useWebFixture();

describe.skipIf(!haveChromium)('status lines and errors', { timeout: 120_000 }, () => {
  it('pass: an invitation until answered, a refusal to invite and a status after a while', async () => {
    const bob = await start(browser, server, 'bob');
    const page = bob.page;
    const chats = page.getByRole('region', { name: 'Chats' });
    const alice = await member(server, 'alice');
    await alice.client.createChat(['bob']);
    const invitation = chats.getByRole('status').filter({ hasText: 'alice invited you to a chat' });
    await invitation.waitFor();
    await chats.getByRole('button', { name: 'Join the chat with alice' }).click();
    await invitation.waitFor({ state: 'detached' });

    // erin is offline: what the page says of her goes after a while
    await page.getByRole('button', { name: 'New chat' }).click();
    await page.getByLabel('Invitees').fill('erin alice');
    await page.getByRole('button', { name: 'Start chat' }).click();
    const erin = chats.getByText(/erin is offline/);
    await erin.waitFor();
    await erin.waitFor({ state: 'detached', timeout: 30_000 });

    const online = page.getByRole('region', { name: 'Online' });
    await online.getByLabel('Status of').fill('carol');
    await online.getByRole('button', { name: 'Status', exact: true }).click();
    const status = online.getByText(/^carol is offline/);
    await status.waitFor();
    await status.waitFor({ state: 'detached', timeout: 30_000 });
    expect(bob.problems).toEqual([]);
    await alice.close();
    await page.context().close();
  });

  it('say what to do when the server cannot be reached, never "Failed to fetch"', async () => {
    const web = await openPage(browser, server);
    await web.page.route('**/auth/login', (route) => route.abort('connectionrefused'));
    await web.page.getByLabel('Username').fill('dave');
    await web.page.getByLabel('Password').fill('whatever it is');
    await web.page.getByRole('button', { name: 'Log in' }).click();
    const alert = web.page.getByRole('alert');
    await alert
      .filter({ hasText: 'The server cannot be reached: check your connection, then try again.' })
      .waitFor();
    expect(await alert.textContent()).not.toMatch(/Failed to fetch/);
    await web.page.context().close();
  });
});
