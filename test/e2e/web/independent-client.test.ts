import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inviteUser } from '../../../src/services/registration.js';
import { tempDir } from '../../support/helper.js';
import {
  type Line,
  type PythonClient,
  pythonMissing,
  registeredPython,
} from '../../support/python-client.js';
import {
  browser,
  connected,
  entry,
  haveChromium,
  log,
  send,
  server,
  start,
  useWebFixture,
  type WebUser,
} from '../../support/web.js';

// Issue 27 for the page: a client written in another language from protocol.md alone
// (interop/python, see test/e2e/chats/independent-client.test.ts for it with the CLI) posts
// version-2 messages that the page shows verified with no transcript warning, and reads the page's.
useWebFixture();
const missing = pythonMissing();

let py: PythonClient;
let alice: WebUser;
let chatId: string;
beforeAll(async () => {
  if (missing || !haveChromium) return;
  const { code } = await inviteUser(server.app.store, 'pyuser');
  const home = await tempDir('securechat-python-web-');
  py = await registeredPython(server.url, code, home, 'pyuser', 'the python user password');
  await py.call('follow');
}, 120_000);
afterAll(async () => {
  await py?.close();
  await alice?.page.context().close();
});

const pyMessage = (text: string) => (l: Line) => l.event === 'message' && l.text === text;

/** What the Python client posts, with how the page names its scheme. */
const FROM_PYTHON = [
  ['rsa-pss-sha256', 'RSA-PSS', 'from python, RSA'],
  ['dsa-sha256', 'DSA', 'from python, DSA'],
  ['ed25519', 'Ed25519', 'from python, Ed25519'],
] as const;

/**
 * A message sent in alice's page, once shown in her log. Her transcript checks run one message
 * at a time in the order received: when her own message is shown, those of every message shown
 * before it are done, and their warnings (if any) in the log.
 */
async function sentInPage(text: string, scheme: 'rsa-pss-sha256' | 'ed25519'): Promise<string> {
  await send(alice, text, scheme);
  return entry(alice, text);
}

/** The open chat's log as alice's page shows it: messages, refused ones, and every other kind of line. */
async function shown() {
  const l = log(alice.page);
  return {
    messages: await l.locator('li.message:not(.refused)').allTextContents(),
    refused: await l.locator('li.refused').allTextContents(),
    alerts: await l.getByRole('alert').allTextContents(),
    transcript: await l.locator('li.transcript').allTextContents(),
    warnings: await l.locator('li.warning').allTextContents(),
    notCovered: await l.getByText('not covered by transcript checks').count(),
  };
}

/** `texts` shown in this order, each verified (a message, not refused) with its scheme, and nothing else said. */
function expectClean(view: Awaited<ReturnType<typeof shown>>, texts: [string, string, string][]) {
  expect(view.messages).toHaveLength(texts.length);
  texts.forEach(([sender, scheme, text], i) => {
    expect(view.messages[i]).toMatch(new RegExp(`${sender} \\(${scheme}\\) ${text}$`));
  });
  expect({ ...view, messages: [] }).toEqual({
    messages: [],
    refused: [],
    alerts: [],
    transcript: [],
    warnings: [],
    notCovered: 0,
  });
}

describe.skipIf(missing !== null || !haveChromium)(
  `an independent Python client and the page${missing ? ` (skipped: ${missing})` : ''}`,
  { timeout: 120_000 },
  () => {
    it('posts version-2 messages signed with RSA, DSA and Ed25519 that the page shows verified, with no transcript warning, also after a reload', async () => {
      alice = await start(browser, server, 'alice');
      // alice is online, so she is invited at once; she joins in her page
      chatId = ((await py.call('create_chat', { invitees: ['alice'] })) as Line).chatId as string;
      await alice.page.locator(`button[data-chat-id="${chatId}"]`).click();
      await alice.page.getByRole('button', { name: 'Join', exact: true }).first().click();
      await alice.page.getByRole('button', { name: 'Invite' }).waitFor();
      await py.next((l) => l.event === 'member.joined');

      const posted: Line[] = [];
      for (const [alg, scheme, text] of FROM_PYTHON) {
        const sent = await py.call('send', { chatId, text, alg });
        posted.push(sent);
        // its entry, shown or refused: a refusal fails here with its reason
        const li = log(alice.page).locator(`li[data-seq="${sent.seq}"]`);
        await li.waitFor();
        expect(await li.textContent()).toMatch(new RegExp(`pyuser \\(${scheme}\\) ${text}$`));
      }

      const expected: [string, string, string][] = FROM_PYTHON.map(([, scheme, text]) => [
        'pyuser',
        scheme,
        text,
      ]);
      await sentInPage('from the page, RSA-PSS', 'rsa-pss-sha256');
      expected.push(['alice', 'RSA-PSS', 'from the page, RSA-PSS']);
      expectClean(await shown(), expected);
      // and they were version 2: numbered by the Python device, each naming the one before
      expect(posted.map((p) => p.counter)).toEqual([1, 2, 3]);
      expect(posted.slice(1).map((p) => (p.prev as Line).seq)).toEqual(posted.slice(0, 2).map((p) => p.seq));

      // a reload reads it all again from history, checked afresh against what the page kept
      await alice.page.reload();
      await connected(alice.page);
      await log(alice.page).getByText('from the page, RSA-PSS').waitFor();
      await sentInPage('from the page after a reload, Ed25519', 'ed25519');
      expected.push(['alice', 'Ed25519', 'from the page after a reload, Ed25519']);
      expectClean(await shown(), expected);
      expect(alice.problems).toEqual([]);
    });

    it("verifies and opens the page's messages (signed by the page, version 2) and its own transcript checks find nothing; the page takes its answer", async () => {
      // sent by the page in the test before (a step that waits in vain fails within the page's time)
      await entry(alice, 'from the page, RSA-PSS');
      for (const [alg, text] of [
        ['rsa-pss-sha256', 'from the page, RSA-PSS'],
        ['ed25519', 'from the page after a reload, Ed25519'],
      ]) {
        expect(await py.next(pyMessage(text))).toMatchObject({
          chatId,
          sender: 'alice',
          text,
          signatureAlgorithm: alg,
          verified: true,
          version: 2,
          covered: true,
        });
      }
      // the Python client answers: its `prev` is the page's last message, checked by the page
      const answer = await py.call('send', { chatId, text: 'python again', alg: 'dsa-sha256' });
      expect(answer).toMatchObject({ counter: 4 });
      expect(await entry(alice, 'python again')).toMatch(/pyuser \(DSA\) python again$/);

      const history = await py.history(chatId);
      expect(history.messages.map((m) => [m.sender, m.text, m.verified, m.version, m.covered])).toEqual([
        ['pyuser', 'from python, RSA', true, 2, true],
        ['pyuser', 'from python, DSA', true, 2, true],
        ['pyuser', 'from python, Ed25519', true, 2, true],
        ['alice', 'from the page, RSA-PSS', true, 2, true],
        ['alice', 'from the page after a reload, Ed25519', true, 2, true],
        ['pyuser', 'python again', true, 2, true],
      ]);
      expect(history.warnings).toEqual([]);
      expect(py.warnings()).toEqual([]);
      expect(py.lines.filter((l) => l.event === 'refused' || l.rejected !== undefined)).toEqual([]);

      await sentInPage('the page again', 'rsa-pss-sha256');
      expect(await py.next(pyMessage('the page again'))).toMatchObject({ verified: true, version: 2 });
      expectClean(await shown(), [
        ...FROM_PYTHON.map(([, scheme, text]): [string, string, string] => ['pyuser', scheme, text]),
        ['alice', 'RSA-PSS', 'from the page, RSA-PSS'],
        ['alice', 'Ed25519', 'from the page after a reload, Ed25519'],
        ['pyuser', 'DSA', 'python again'],
        ['alice', 'RSA-PSS', 'the page again'],
      ]);
      expect(py.warnings()).toEqual([]);
      expect(alice.problems).toEqual([]);
    });
  },
);
