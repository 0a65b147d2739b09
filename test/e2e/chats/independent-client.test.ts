import { copyFile, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../scripts/child.js';
import { makeResetCode } from '../../../src/services/account-changes.js';
import { inviteUser } from '../../../src/services/registration.js';
import { onDatabase } from '../../support/chats.js';
import { cliEnv } from '../../support/cli.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer, tempDir } from '../../support/helper.js';
import { type Line, PythonClient, pythonMissing, registeredPython } from '../../support/python-client.js';

// protocol.md's "Done when" for Transcript integrity and Accounts over time: a client written in
// another language from protocol.md and openapi.yaml alone (interop/python) talks with the real CLI,
// both ways, and neither sees a warning.
const missing = pythonMissing();
const PY_PASSWORD = 'the python user password';

let server: TestServer;
let py: PythonClient;
let chatId: string;
let pyHome: string;
beforeAll(async () => {
  if (missing) return;
  server = await startServer({ TOKEN_TTL: '1h' });
  const { code } = await inviteUser(server.app.store, 'pyuser');
  pyHome = await tempDir('securechat-python-');
  py = await registeredPython(server.url, code, pyHome, 'pyuser', PY_PASSWORD);
  await py.call('follow');
}, 120_000);
afterAll(async () => {
  await py?.close();
  await server?.close();
});

const cli = (user: string, ...args: string[]) =>
  runCli(['--user', user, '--password-stdin', ...args], cliEnv(server.url, server.keysDir), `${PASSWORD}\n`);

/** The CLI's `history --json` of the chat, with no transcript warning and nothing refused. */
async function cliHistory(user: string) {
  const r = await cli(user, '--json', '--limit', '100', '--chat', chatId, 'history');
  expect(r.code, r.stderr).toBe(0);
  const result = JSON.parse(r.stdout.split('\n').at(-1) as string);
  return { ...result, stderr: r.stderr } as {
    messages: { text: string; sender: string }[];
    warnings: unknown[];
    stderr: string;
  };
}

const pyMessage = (text: string) => (l: Line) => l.event === 'message' && l.text === text;

describe.skipIf(missing !== null)(
  `an independent Python client${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    it('posts version-2 messages signed with RSA and DSA that the CLI shows verified, with no transcript warning', {
      timeout: 120_000,
    }, async () => {
      chatId = ((await py.call('create_chat', { invitees: ['alice'] })) as Line).chatId as string;
      const joined = await cli('alice', 'join', chatId);
      expect(joined.code, joined.stderr).toBe(0);
      await py.next((l) => l.event === 'member.joined');
      const rsa = await py.call('send', { chatId, text: 'from python, RSA', alg: 'rsa-pss-sha256' });
      const dsa = await py.call('send', { chatId, text: 'from python, DSA', alg: 'dsa-sha256' });
      expect([rsa.counter, dsa.counter]).toEqual([1, 2]);
      expect(dsa.prev).toEqual({ seq: rsa.seq, hash: expect.stringMatching(/^[0-9a-f]{64}$/) });

      const plain = await cli('alice', '--chat', chatId, 'history');
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout).toMatch(/pyuser \(rsa\): from python, RSA$/m);
      expect(plain.stdout).toMatch(/pyuser \(dsa\): from python, DSA$/m);
      expect(plain.stdout + plain.stderr).not.toMatch(/transcript|REJECTED|not covered/);
      const json = await cliHistory('alice');
      expect(json.messages.map((m) => [m.sender, m.text])).toEqual([
        ['pyuser', 'from python, RSA'],
        ['pyuser', 'from python, DSA'],
      ]);
      expect(json.warnings).toEqual([]);
    });

    it('verifies and opens what the CLI posts, RSA, DSA and Ed25519, and its own transcript checks find nothing', {
      timeout: 120_000,
    }, async () => {
      for (const [sig, text] of [
        ['rsa', 'from the CLI, RSA'],
        ['dsa', 'from the CLI, DSA'],
        ['ed25519', 'from the CLI, Ed25519'],
      ]) {
        const sent = await cli('alice', '--chat', chatId, '--sig', sig, 'send', text);
        expect(sent.code, sent.stderr).toBe(0);
        const seen = await py.next(pyMessage(text));
        expect(seen).toMatchObject({ sender: 'alice', verified: true, version: 2, covered: true });
      }
      // the Python client answers after them: its `prev` is the CLI's last message, checked by the CLI
      await py.call('send', { chatId, text: 'python again', alg: 'dsa-sha256' });
      const history = await py.history(chatId);
      expect(history.messages.map((m) => [m.sender, m.text, m.verified, m.version])).toEqual([
        ['pyuser', 'from python, RSA', true, 2],
        ['pyuser', 'from python, DSA', true, 2],
        ['alice', 'from the CLI, RSA', true, 2],
        ['alice', 'from the CLI, DSA', true, 2],
        ['alice', 'from the CLI, Ed25519', true, 2],
        ['pyuser', 'python again', true, 2],
      ]);
      expect(history.warnings).toEqual([]);
      expect(py.warnings()).toEqual([]);
      const cliSide = await cliHistory('alice');
      expect(cliSide.messages.at(-1)?.text).toBe('python again');
      expect(cliSide.warnings).toEqual([]);
      expect(cliSide.stderr).not.toMatch(/transcript|REJECTED/);
    });

    it('replaces its keys with a continuity signature: the CLI says so, refuses until trusted, and old messages still verify', {
      timeout: 180_000,
    }, async () => {
      const before = (await cliHistory('alice')).messages.length;
      const { fingerprints } = await py.call<{ fingerprints: Record<string, string> }>('replace_keys', {
        password: PY_PASSWORD,
        alg: 'dsa-sha256',
        rsaBits: 2048,
      });
      await py.next((l) => l.event === 'chat.key' && l.chatId === chatId && l.epoch === 2);
      await py.call('send', { chatId, text: 'python with new keys', alg: 'rsa-pss-sha256' });

      const refused = await cli('alice', '--chat', chatId, 'history');
      expect(refused.stderr).toContain('pyuser replaced their keys, signed with their old key');
      expect(refused.stdout).not.toContain('python with new keys');
      expect(refused.stdout).toMatch(/pyuser \(dsa\): from python, DSA$/m);
      expect(refused.stdout).toMatch(/pyuser \(dsa\): python again$/m);

      const shown = await cli('alice', '--json', 'fingerprint', 'pyuser');
      expect(shown.code, shown.stderr).toBe(0);
      const trusted = await cli('alice', 'trust', 'pyuser', JSON.parse(shown.stdout).all);
      expect(trusted.code, trusted.stderr).toBe(0);
      const after = await cliHistory('alice');
      expect(after.messages.map((m) => m.text)).toHaveLength(before + 1);
      expect(after.messages.at(-1)?.text).toBe('python with new keys');
      expect(after.warnings).toEqual([]);

      // the Python client, with only its new keys in place, reads and verifies the whole history
      const own = await py.history(chatId);
      expect(own.messages.every((m) => m.verified === true)).toBe(true);
      expect(own.messages.at(-1)?.text).toBe('python with new keys');
      expect(own.warnings).toEqual([]);
      expect((await py.call('status', { username: 'pyuser' })).fingerprints).toEqual(fingerprints);
    });

    it("follows CLI users' key replacements through `changes`: the continuity wording, refusal until trusted, old messages verify on a fresh device", {
      timeout: 240_000,
    }, async () => {
      // carol, invited, replaces her keys before she joins: the Python client had pinned her old ones
      const from = py.lines.length;
      await py.call('invite', { chatId, invitees: ['carol'] });
      expect((await py.call('status', { username: 'carol' })).kind).toBe('pinned');
      const replaced = await cli('carol', 'keys', 'replace');
      expect(replaced.code, replaced.stderr).toBe(0);
      const event = await py.next((l) => l.event === 'account.keys' && l.username === 'carol', from);
      expect(event).toMatchObject({
        kind: 'continuity',
        text: 'carol replaced their keys, signed with their old key',
      });
      expect((await cli('carol', 'join', chatId)).code).toBe(0);
      const sent = await cli('carol', '--chat', chatId, '--sig', 'dsa', 'send', 'carol with new keys');
      expect(sent.code, sent.stderr).toBe(0);
      const refused = await py.next((l) => l.event === 'message' && l.sender === 'carol', from);
      expect(refused).toMatchObject({ keyChange: 'continuity', rejected: event.text });
      await py.call('trust', { username: 'carol', all: event.all });
      const accepted = await py.history(chatId);
      expect(accepted.messages.at(-1)).toMatchObject({
        sender: 'carol',
        text: 'carol with new keys',
        verified: true,
      });
      expect(accepted.warnings).toEqual([]);

      // alice replaces hers: said with the same words
      const aliceReplaced = await cli('alice', 'keys', 'replace');
      expect(aliceReplaced.code, aliceReplaced.stderr).toBe(0);
      const aliceEvent = await py.next((l) => l.event === 'account.keys' && l.username === 'alice', from);
      expect(aliceEvent).toMatchObject({
        kind: 'continuity',
        text: 'alice replaced their keys, signed with their old key',
      });

      // a fresh installation of the Python user (only the current key files) pins everyone's current
      // keys, and verifies the older messages by following each continuity signature back
      const home = await tempDir('securechat-python-fresh-');
      const store = path.join(home, 'keys', 'users', 'pyuser');
      await mkdir(store, { recursive: true });
      for (const f of await readdir(path.join(pyHome, 'keys', 'users', 'pyuser'))) {
        if (f.endsWith('.pem'))
          await copyFile(path.join(pyHome, 'keys', 'users', 'pyuser', f), path.join(store, f));
      }
      const fresh = new PythonClient(server.url, home, 'pyuser');
      try {
        await fresh.call('login', { password: PY_PASSWORD });
        const all = await fresh.history(chatId);
        expect(all.messages.filter((m) => m.verified !== true)).toEqual([]);
        expect(all.messages.map((m) => m.sender)).toEqual([
          ...['pyuser', 'pyuser', 'alice', 'alice', 'alice', 'pyuser', 'pyuser', 'carol'],
        ]);
        expect(all.warnings).toEqual([]);
      } finally {
        await fresh.close();
      }
    });

    it('its own transcript checks are not blind: a message dropped for everyone is missing and withheld, and a version-1 message is marked', {
      timeout: 180_000,
    }, async () => {
      const { code } = await inviteUser(server.app.store, 'pyreader');
      const home = await tempDir('securechat-python-reader-');
      const reader = await registeredPython(server.url, code, home, 'pyreader', PY_PASSWORD);
      try {
        const made = (await reader.call('create_chat', { invitees: ['bob'] })) as Line;
        const chat = made.chatId as string;
        const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
        await bob.acceptEnvelope(
          (await bob.api.call('joinChat', { params: { chatId: chat } })).body.keyEnvelope,
        );
        const send = async (text: string) => {
          const r = await cli('bob', '--chat', chat, 'send', text);
          expect(r.code, r.stderr).toBe(0);
          return Number((r.stdout.match(/sent as #(\d+)/) as RegExpMatchArray)[1]);
        };
        await send('one');
        const dropped = await send('two');
        await onDatabase(server, 'DELETE FROM events WHERE chat_id = ? AND seq = ?', [chat, dropped]);
        await onDatabase(server, 'DELETE FROM messages WHERE chat_id = ? AND seq = ?', [chat, dropped]);
        await send('three');
        expect((await bob.send(chat, 1, 'an old client', 'ed25519')).res.status).toBe(201);

        const h = await reader.history(chat);
        expect(h.messages.map((m) => [m.text, m.version])).toEqual([
          ['one', 2],
          ['three', 2],
          ['an old client', 1],
        ]);
        expect(h.messages[2]).toMatchObject({ covered: false, note: 'not covered by transcript checks' });
        expect(h.warnings.map((w) => [w.kind, w.text]).sort()).toEqual([
          ['missing', '1 message from bob is missing'],
          ['withheld', `message #${dropped} was withheld from you`],
        ]);
      } finally {
        await reader.close();
      }
    });

    it('changes its password (the old one then fails, the new one logs in), logs out everywhere, and resets with a code: the CLI says the administrator reset the keys', {
      timeout: 180_000,
    }, async () => {
      const { code } = await inviteUser(server.app.store, 'pypass');
      const home = await tempDir('securechat-python-pass-');
      const one = await registeredPython(server.url, code, home, 'pypass', PY_PASSWORD);
      try {
        const chat = ((await one.call('create_chat', { invitees: ['dave'] })) as Line).chatId as string;
        expect((await cli('dave', 'join', chat)).code).toBe(0);
        await one.call('send', { chatId: chat, text: 'before the reset', alg: 'rsa-pss-sha256' });
        const pinned = await cli('dave', '--chat', chat, 'history');
        expect(pinned.stdout).toMatch(/pypass \(rsa\): before the reset$/m);
        await one.call('change_password', { current: PY_PASSWORD, new: 'a newer python password' });
        await expect(one.call('login', { password: PY_PASSWORD })).rejects.toThrow(/401 INVALID_CREDENTIALS/);
        await one.call('login', { password: 'a newer python password' });
        await one.call('logout', { everywhere: true });
        await expect(one.call('status', { username: 'bob' })).rejects.toThrow(/401 TOKEN_REVOKED/);
        // lost everything: the administrator's reset code, new keys and a new password
        const reset = await makeResetCode(server.app.store, 'pypass');
        const { fingerprints } = await one.call<{ fingerprints: object }>('reset', {
          code: reset.code,
          newPassword: 'a reset python password',
          rsaBits: 2048,
        });
        await one.call('login', { password: 'a reset python password' });
        const served = await one.call('status', { username: 'pypass' });
        expect(served).toMatchObject({ fingerprints, kind: 'pinned', changes: 1 });
        await one.call('send', { chatId: chat, text: 'after the reset', alg: 'dsa-sha256' });
        // the CLI says it was the administrator, refuses the new message, and still shows the old one
        const warned = await cli('dave', '--chat', chat, 'history');
        expect(warned.stderr).toContain(
          "pypass's keys were reset by the administrator: compare fingerprints before you trust them",
        );
        expect(warned.stdout).toMatch(/pypass \(rsa\): before the reset$/m);
        expect(warned.stdout).not.toContain('after the reset');
        // and the Python client, with only its new keys, reads both
        const own = await one.history(chat);
        expect(own.messages.map((m) => [m.text, m.verified])).toEqual([
          ['before the reset', true],
          ['after the reset', true],
        ]);
      } finally {
        await one.close();
      }
    });
  },
);
