/**
 * Invitations are answered where they show (issue 24, item 3): **Join** and **Decline** beside each
 * invitation in the list, and in the chat when it is open; declining is not called "Leave".
 */
import { describe, expect, it } from 'vitest';
import { member } from '../../support/members.js';
import { browser, haveChromium, server, start, useWebFixture } from '../../support/web.js';

useWebFixture();

describe.skipIf(!haveChromium)('answering an invitation', { timeout: 120_000 }, () => {
  it('Join and Decline sit beside each invitation in the list and in the chat', async () => {
    const bob = await start(browser, server, 'bob');
    const page = bob.page;
    const chats = page.getByRole('region', { name: 'Chats' });
    const alice = await member(server, 'alice');
    const first = (await alice.client.createChat(['bob'])).chat;
    const carol = await member(server, 'carol');
    const second = (await carol.client.createChat(['bob'])).chat;

    // in the list: Join beside the first invitation opens it joined
    await chats.getByRole('button', { name: 'Decline the chat with alice', exact: true }).waitFor();
    await chats.getByRole('button', { name: 'Join the chat with alice', exact: true }).click();
    await page.getByRole('button', { name: 'Invite', exact: true }).waitFor();
    await expect
      .poll(
        async () =>
          (await alice.client.api.getChat(first.id)).members.find((m) => m.username === 'bob')?.state,
      )
      .toBe('joined');
    expect(await chats.getByRole('button', { name: 'Join the chat with alice', exact: true }).count()).toBe(
      0,
    );

    // in the list: Decline beside the second removes it
    const declineInList = chats.getByRole('button', { name: 'Decline the chat with carol', exact: true });
    await declineInList.click();
    await declineInList.waitFor({ state: 'detached' });
    expect(await chats.getByRole('button', { name: /^carol/ }).count()).toBe(0);
    expect((await carol.client.api.getChat(second.id)).members.map((m) => m.username)).not.toContain('bob');

    // in the chat: an invitation opened has Join and Decline (no Leave)
    const dave = await member(server, 'dave');
    const third = (await dave.client.createChat(['bob'])).chat;
    await chats.getByRole('button', { name: /^dave.* invited$/ }).click();
    const panel = page.locator('section.chat');
    await panel.getByRole('button', { name: 'Join', exact: true }).waitFor();
    expect(await panel.getByRole('button', { name: 'Leave', exact: true }).count()).toBe(0);
    await panel.getByRole('button', { name: 'Decline', exact: true }).click();
    await page.getByRole('heading', { name: 'No chat open' }).waitFor();
    expect((await dave.client.api.getChat(third.id)).members.map((m) => m.username)).not.toContain('bob');
    expect(bob.problems).toEqual([]);
    await Promise.all([alice.close(), carol.close(), dave.close()]);
    await page.context().close();
  });
});
