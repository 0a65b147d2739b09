import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, MemoryTranscriptStore, type MessageData } from '../../../src/client/index.js';
import { onDatabase } from '../../support/chats.js';
import { type LyingProxy, type Rule, startProxy } from '../../support/cli-proxy.js';
import type { TestServer } from '../../support/helper.js';
import { catchUp, editHistory, editStream, forUser, libraryClient } from '../../support/transcript.js';
import {
  browser,
  connected,
  haveChromium,
  log,
  server,
  start,
  useWebFixture,
  type WebUser,
} from '../../support/web.js';

// protocol.md "Transcript integrity" in the page: each attack of a compromised server (the lying
// proxy of test/support between carol's page and the real server, or a change to the database) is
// shown in the chat where it happened as a line of the log that is not a message (role alert,
// class "transcript warning"), kept in IndexedDB across a reload, and resolved when the missing
// message arrives.
useWebFixture({ SECURECHAT_HISTORY_LIMIT: '100000' });

let proxy: LyingProxy;
let alice: Client;
let bob: Client;
/**
 * The messages (`chatId/seq`) left out of carol's event stream. Her page opens its stream once,
 * when it starts: the rule that edits it is in front of the proxy's pass-through from the start.
 */
const unstreamed = new Set<string>();
beforeAll(async () => {
  proxy = await startProxy(server.url);
  proxy.rules.push(
    forUser(
      'carol',
      editStream(server.url, (d) => unstreamed.has(`${d.chatId}/${d.seq}`)),
    ),
  );
  alice = (await libraryClient(server.url, 'alice')).client;
  bob = (await libraryClient(server.url, 'bob')).client;
});
afterAll(async () => {
  for (const c of [alice, bob]) await c?.close();
  await proxy?.close();
});

const pages: WebUser[] = [];
afterAll(async () => {
  for (const web of pages) await web.page.context().close();
});

/** carol's page, served by and talking to the proxy (no rule in it: it passes everything through). */
async function carolsPage(): Promise<WebUser> {
  const web = await start(browser, { ...server, url: proxy.url } as TestServer, 'carol');
  pages.push(web);
  return web;
}

/** A chat of alice, bob and carol (joined in her page), open in her page. */
async function chatWith(carol: WebUser): Promise<string> {
  const { chat } = await alice.createChat(['bob', 'carol']);
  await bob.join(chat.id);
  await carol.page.locator(`button[data-chat-id="${chat.id}"]`).click();
  await carol.page.getByRole('button', { name: 'Join', exact: true }).first().click();
  await carol.page.getByRole('button', { name: 'Invite' }).waitFor();
  return chat.id;
}

/** Messages `seqs` of the chat are left out of carol's stream from now on. */
const notStreamed = (chatId: string, seqs: number[]) => {
  for (const seq of seqs) unstreamed.add(`${chatId}/${seq}`);
};
/** A rule for carol's requests only: her history edited by `edit`. */
const historyFor = (edit: (ms: MessageData[]) => MessageData[]): Rule =>
  forUser('carol', editHistory(server.url, edit));

/** The warning line of the open chat that says `text`, once shown: its class, role and text. */
async function warning(web: WebUser, text: string) {
  const li = log(web.page).getByRole('alert').filter({ hasText: text });
  await li.waitFor();
  return {
    class: (await li.getAttribute('class'))?.split(' ').sort(),
    text: await li.textContent(),
  };
}

const shownAsWarning = (text: string) => ({
  class: ['note', 'transcript', 'warning'],
  text: `⚠ Transcript check: ${text}`,
});

/** The open chat's transcript lines' texts (open or resolved), in the log's order. */
const transcriptLines = (web: WebUser) => log(web.page).locator('li.transcript').allTextContents();

/**
 * A reload while the server answers carol's history empty, then `check`: what the log says of the
 * chat can only be what the page kept (IndexedDB), not found again in its history.
 */
async function reloadWithoutHistory(web: WebUser, check: () => Promise<void>): Promise<void> {
  await proxy.with([historyFor(() => [])], async () => {
    await web.page.reload();
    await connected(web.page);
    await check();
  });
}

/** A reload: the same session, the same chat open, its history loaded again. */
async function reload(web: WebUser, lastText: string): Promise<void> {
  await web.page.reload();
  await connected(web.page);
  await log(web.page).getByText(lastText).waitFor();
}

describe.skipIf(!haveChromium)('transcript warnings in the page', { timeout: 180_000 }, () => {
  it('a message dropped for everyone: "1 message from alice is missing", a warning line, kept across a reload', async () => {
    const carol = await carolsPage();
    const chatId = await chatWith(carol);
    // what the server delivers of #2 (to carol's stream) is lost too: it is deleted before delivery
    notStreamed(chatId, [2]);
    await alice.send(chatId, 'one', 'ed25519');
    await log(carol.page).getByText('one', { exact: true }).waitFor();
    const { seq } = await alice.send(chatId, 'two', 'ed25519');
    expect(seq).toBe(2);
    await onDatabase(server, 'DELETE FROM events WHERE chat_id = ? AND seq = ?', [chatId, seq]);
    await onDatabase(server, 'DELETE FROM messages WHERE chat_id = ? AND seq = ?', [chatId, seq]);
    await alice.send(chatId, 'three', 'ed25519');
    expect(await warning(carol, 'missing')).toEqual(shownAsWarning('1 message from alice is missing'));
    expect(await warning(carol, 'withheld')).toEqual(shownAsWarning('message #2 was withheld from you'));
    // no message entry holds a warning
    expect(
      await log(carol.page)
        .locator('li.message')
        .filter({ hasText: /missing|withheld/ })
        .count(),
    ).toBe(0);

    await reloadWithoutHistory(carol, async () => {
      expect(await warning(carol, 'missing')).toEqual(shownAsWarning('1 message from alice is missing'));
      expect(await warning(carol, 'withheld')).toEqual(shownAsWarning('message #2 was withheld from you'));
    });
  });

  it('a message withheld from carol only: "message #2 was withheld from you" once a later one comes; resolved when it arrives', async () => {
    const carol = await carolsPage();
    const chatId = await chatWith(carol);
    const hidden = historyFor((ms) => ms.filter((m) => m.seq !== 2));
    notStreamed(chatId, [2]);
    await proxy.with([hidden], async () => {
      await alice.send(chatId, 'one', 'ed25519');
      await log(carol.page).getByText('one', { exact: true }).waitFor();
      await bob.send(chatId, 'for everyone but carol', 'ed25519');
      await alice.send(chatId, 'later', 'ed25519');
      await log(carol.page).getByText('later').waitFor();
      expect(await warning(carol, 'withheld')).toEqual(shownAsWarning('message #2 was withheld from you'));
      expect(await log(carol.page).getByText('for everyone but carol').count()).toBe(0);
    });
    await reloadWithoutHistory(carol, async () => {
      expect(await warning(carol, 'withheld')).toEqual(shownAsWarning('message #2 was withheld from you'));
    });
    // the server stops lying: on the next load the message arrives and the warning goes
    await reload(carol, 'for everyone but carol');
    await log(carol.page).getByText('✓ Resolved: message #2 was withheld from you').waitFor();
    expect(await log(carol.page).getByRole('alert').count()).toBe(0);
    await reload(carol, 'for everyone but carol');
    expect(await transcriptLines(carol)).toEqual([]);
  });

  it('a fork: carol shown two messages the other way round → "bob saw a different message #3", in that chat only', async () => {
    const carol = await carolsPage();
    const other = await chatWith(carol);
    const chatId = await chatWith(carol);
    const swap = (ms: MessageData[]) =>
      ms
        .map((m) => (m.seq === 2 ? { ...m, seq: 3 } : m.seq === 3 ? { ...m, seq: 2 } : m))
        .sort((a, b) => a.seq - b.seq);
    notStreamed(chatId, [2, 3]);
    await proxy.with([historyFor(swap)], async () => {
      await alice.send(chatId, 'zero', 'ed25519');
      await log(carol.page).getByText('zero').waitFor();
      await alice.send(chatId, 'x', 'ed25519');
      await alice.send(chatId, 'y', 'ed25519');
      expect(await catchUp(bob, chatId)).toEqual([]);
      await bob.send(chatId, 'after y', 'ed25519'); // prev: #3 as bob saw it
      await log(carol.page).getByText('after y').waitFor();
      const fork = 'bob saw a different message #3 than you did: the server showed you different histories';
      expect(await warning(carol, 'different')).toEqual(shownAsWarning(fork));
      // the other chat has no warning
      await carol.page.locator(`button[data-chat-id="${other}"]`).click();
      await log(carol.page).waitFor();
      expect(await transcriptLines(carol)).toEqual([]);
    });
  });

  it('a counter repeated on another message id (two installations on one copied state): "alice\'s device sent two messages numbered 2"', async () => {
    const carol = await carolsPage();
    const chatId = await chatWith(carol);
    const one = await libraryClient(server.url, 'alice');
    try {
      await one.client.send(chatId, 'one', 'ed25519');
      const copy = new MemoryTranscriptStore();
      copy.saved = structuredClone(one.stores.transcripts.saved);
      const two = await libraryClient(server.url, 'alice', { keys: one.stores.keys, transcripts: copy });
      try {
        await one.client.send(chatId, 'two', 'ed25519');
        await two.client.send(chatId, 'three', 'ed25519');
      } finally {
        await two.client.close();
      }
      await log(carol.page).getByText('three').waitFor();
      expect(await warning(carol, 'numbered')).toEqual(
        shownAsWarning("alice's device sent two messages numbered 2"),
      );
    } finally {
      await one.client.close();
    }
  });
});
