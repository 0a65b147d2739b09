import { describe, expect, it } from 'vitest';
import { Participant } from '../../support/client.js';
import { PASSWORD } from '../../support/helper.js';
import { browser, haveChromium, log, server, start, useWebFixture } from '../../support/web.js';

// The page's list of chats, live: offline invitees are invited and the page says so; a chat
// this user starts elsewhere (another tab, the CLI, curl) appears without a reload.

useWebFixture();

const chatsRegion = (web: { page: import('playwright-core').Page }) =>
  web.page.getByRole('region', { name: 'Chats' });

describe.skipIf(!haveChromium)('the list of chats in the page', { timeout: 120_000 }, () => {
  it('invites an offline user, in both modes, and says they will see it when they connect', async () => {
    const alice = await start(browser, server, 'alice');
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByLabel('Invitees').fill('erin');
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await alice.page.getByText('invited — erin is offline and will see it when they connect.').waitFor();
    await alice.page.getByText(/^Members: alice, erin \(invited\) \(offline\)$/).waitFor();

    // members mode: the page commits the first epoch for the offline member's key, and again on invitation
    await alice.page.getByRole('button', { name: 'New chat' }).click();
    await alice.page.getByLabel('Invitees').fill('dave');
    await alice.page.getByLabel('Only members can read').check();
    await alice.page.getByRole('button', { name: 'Start chat' }).click();
    await alice.page.getByText('invited — dave is offline and will see it when they connect.').waitFor();
    await alice.page.getByText('Epoch 1', { exact: true }).waitFor();
    await alice.page.getByLabel('Invite users').fill('carol');
    await alice.page.getByRole('button', { name: 'Invite' }).click();
    await log(alice.page)
      .getByText('invited — carol is offline and will see it when they connect.')
      .waitFor();
    await alice.page.getByText('Epoch 2', { exact: true }).waitFor();
    // dave connects later: the invitation waits for him, with a key made for him
    const dave = await Participant.login(server.url, server.keysDir, 'dave', PASSWORD);
    const chats = (await dave.api.call('listChats')).body.chats;
    expect(chats).toHaveLength(1);
    expect((await dave.api.call('getChatKey', { params: { chatId: chats[0].id } })).status).toBe(200);
    expect(alice.problems).toEqual([]);
  });

  it('lists a chat this user started elsewhere (curl, the CLI, another tab) without a reload', async () => {
    const bob = await start(browser, server, 'bob');
    const elsewhere = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    const res = await elsewhere.api.call('createChat', { body: { invitees: ['erin'] } });
    expect(res.status).toBe(201);
    await chatsRegion(bob).getByRole('button', { name: /erin/ }).click();
    await bob.page.getByText(/^Members: bob, erin \(invited\) \(offline\)$/).waitFor();
    expect(bob.problems).toEqual([]);
  });
});
