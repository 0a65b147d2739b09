/**
 * Messages written while the server is away are kept in a visible queue and sent in order when it
 * is back, each with the id it was first given: one whose answer was lost but which did arrive is
 * answered 409 DUPLICATE_MESSAGE on the next try and counts as sent (issue 24, item 5).
 */
import type { Browser, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageData } from '../../../src/client/index.js';
import { startServer, type TestServer } from '../../support/helper.js';
import { member } from '../../support/members.js';
import { connected, haveChromium, launch, log, start } from '../../support/web.js';

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

describe.skipIf(!haveChromium)('messages sent while the server is away', { timeout: 120_000 }, () => {
  it('wait in a visible queue and are sent in order, with the same ids, when the stream is back', async () => {
    const bob = await start(browser, server, 'bob');
    const page = bob.page;
    const alice = await member(server, 'alice');
    const { chat } = await alice.client.createChat(['bob']);
    await page.getByRole('button', { name: 'Join the chat with alice' }).click();
    await page.getByRole('button', { name: 'Invite', exact: true }).waitFor();

    // the first post arrives but its answer is lost; then the server is away for posts
    const ids: string[] = [];
    let posts = 0;
    await page.route('**/chats/*/messages', async (route: Route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      const body = route.request().postDataJSON() as { id: string };
      ids.push(body.id);
      posts++;
      if (posts === 1) await route.fetch();
      return route.abort('connectionrefused');
    });
    const send = async (text: string) => {
      await page.getByRole('textbox', { name: 'Message' }).fill(text);
      await page.getByRole('button', { name: 'Send' }).click();
    };
    const unsent = page.getByRole('list', { name: 'Unsent messages' });
    await send('one');
    await unsent.getByRole('listitem').filter({ hasText: 'one' }).waitFor();
    await page
      .getByRole('status')
      .filter({
        hasText: 'The server cannot be reached — your message is kept and will be sent when it is back.',
      })
      .waitFor();
    await send('two');
    await expect.poll(() => posts).toBe(2); // "one" tried again first; "two" waits behind it
    await expect
      .poll(() => unsent.getByRole('listitem').allTextContents())
      .toEqual(['waiting one', 'waiting two']);
    expect(await page.getByRole('textbox', { name: 'Message' }).inputValue()).toBe('');

    // the server back (a restart drops the stream, which connects again): both sent, in order
    await page.unroute('**/chats/*/messages');
    const answers: number[] = [];
    page.on('response', (r) => {
      if (r.request().method() === 'POST' && /\/chats\/[^/]+\/messages$/.test(r.url()))
        answers.push(r.status());
    });
    server = await server.restart();
    await connected(page);
    await unsent.waitFor({ state: 'detached' });
    expect(answers).toEqual([409, 201]);
    expect(ids[1]).toBe(ids[0]); // "one" kept its id
    const history = (await alice.client.api.listMessages(chat.id)).messages as MessageData[];
    const mine = history.filter((m) => m.sender === 'bob');
    expect(mine.map((m) => m.message.id)[0]).toBe(ids[0]);
    expect(await Promise.all(mine.map((m) => alice.client.read(m, chat.id)))).toEqual(['one', 'two']);
    // shown once each, in order, and the status line is gone with the queue
    await log(page).getByText('two', { exact: true }).waitFor();
    expect(await log(page).locator('.message .text').allTextContents()).toEqual(['one', 'two']);
    expect(await page.getByText('The server cannot be reached', { exact: false }).count()).toBe(0);
    await alice.close();
    await page.context().close();
  });
});
