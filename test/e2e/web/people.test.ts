/**
 * A chat starts from a person, and is named by its members (issue 24, item 9): a name under
 * Online starts the chat with them, or opens the one there is; chats are labelled by their other
 * members, with the id only where two chats have the same members.
 */
import { describe, expect, it } from 'vitest';
import { shortId } from '../../../src/client/index.js';
import { member } from '../../support/members.js';
import { browser, haveChromium, server, start, useWebFixture } from '../../support/web.js';

useWebFixture();

describe.skipIf(!haveChromium)('chats with people', { timeout: 120_000 }, () => {
  it('a name under Online starts or opens the chat with them; chats are named by members', async () => {
    const bob = await start(browser, server, 'bob');
    const page = bob.page;
    const alice = await member(server, 'alice');
    const carol = await member(server, 'carol');
    const online = page.getByRole('region', { name: 'Online' });
    const chats = page.getByRole('region', { name: 'Chats' });

    await online.getByRole('button', { name: 'Chat with alice' }).click();
    await page.getByRole('heading', { name: 'Chat with alice' }).waitFor();
    await expect.poll(async () => (await alice.client.api.listChats()).chats.length).toBe(1);
    // named by its member, not by its id
    const [withAlice] = (await alice.client.api.listChats()).chats;
    await chats.getByRole('button', { name: /^alice · epoch \d+$/ }).waitFor();
    expect(await chats.getByText(shortId(withAlice.id)).count()).toBe(0);

    // another chat open, then alice's name again: the same chat opens, no second one is made
    await online.getByRole('button', { name: 'Chat with carol' }).click();
    await page.getByRole('heading', { name: 'Chat with carol' }).waitFor();
    await online.getByRole('button', { name: 'Chat with alice' }).click();
    await page.getByRole('heading', { name: 'Chat with alice' }).waitFor();
    expect((await alice.client.api.listChats()).chats.length).toBe(1);

    // two chats with the same members: each shows its id beside the names
    const { chat: again } = await alice.client.createChat(['bob']);
    await chats
      .getByRole('button', { name: new RegExp(`^alice · ${shortId(again.id)} · epoch \\d+ · invited$`) })
      .waitFor();
    await chats
      .getByRole('button', { name: new RegExp(`^alice · ${shortId(withAlice.id)} · epoch`) })
      .waitFor();
    await chats.getByRole('button', { name: /^carol · epoch/ }).waitFor();
    expect(bob.problems).toEqual([]);
    await Promise.all([alice.close(), carol.close()]);
    await page.context().close();
  });
});
