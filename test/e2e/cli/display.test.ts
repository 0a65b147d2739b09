import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { jsonLine, messageText, printable } from '../../../cli/format.js';
import { TrustStore } from '../../../cli/trust.js';
import { escapeControls } from '../../../src/client/index.js';
import { seal } from '../../../src/crypto/aead.js';
import { toBase64 } from '../../../src/crypto/base64.js';
import { messageAad, messageSigningInput } from '../../../src/crypto/canonical.js';
import { signSync } from '../../../src/crypto/signatures.js';
import { chatOf } from '../../support/chats.js';
import {
  alice,
  answer,
  bob,
  carol,
  cli,
  envelopeOf,
  menu,
  problem,
  proxy,
  type Rule,
  readJson,
  server,
  useLyingServer,
  userFile,
  withRules,
} from '../../support/cli-proxy.js';
import { tempDir } from '../../support/helper.js';

// The CLI's checks against a lying server (the review of the CLI, tests A1–A11, and its race
// scripts): each attack, against the real CLI over real HTTP through a proxy that lies
// (test/support/cli-proxy.ts), and refused.
useLyingServer();

/** carol, a chat member, forges a message whose AAD and signature claim `claimed` as sender. */
function forge(chatId: string, epoch: number, claimed: string, text: string) {
  const key = carol.chatKeys.get(`${chatId}/${epoch}`) as Buffer;
  const header = { chatId, epoch, sender: claimed, id: randomUUID(), sentAt: new Date().toISOString() };
  const parts = seal(key, Buffer.from(text, 'utf8'), messageAad(header));
  const signature = toBase64(
    signSync('ed25519', carol.keys.signing.ed25519.privateKey, messageSigningInput(header, parts)),
  );
  return { id: header.id, epoch, sentAt: header.sentAt, ...parts, signatureAlgorithm: 'ed25519', signature };
}

describe('server data of the wrong shape or grammar is refused, and shown escaped (A1, A2, A3)', () => {
  it('a sender that is a JSON array is refused and leaves alice\u2019s pin alone (A1)', async () => {
    const a = await chatOf(alice, bob, carol);
    expect((await alice.send(a, 1, 'genuine alice', 'ed25519')).res.status).toBe(201);
    const h0 = await cli('bob', '--chat', a, 'history');
    expect(h0.stdout).toMatch(/alice \(ed25519\): genuine alice$/);
    const knownFile = userFile('bob', 'known_keys.json');
    const before = (await readJson(knownFile)).users.alice;
    const carolKeys = (await bob.api.call('getUserKeys', { params: { username: 'carol' } })).body;
    const forged = forge(a, 1, 'alice', 'send the money to mallory');
    const swap = answer('GET', '/users/alice/keys', 200, { ...carolKeys, username: 'alice' });
    const asArray = answer('GET', `/chats/${a}/messages`, 200, {
      messages: [
        { chatId: a, seq: 2, sender: ['alice'], receivedAt: new Date().toISOString(), message: forged },
      ],
    });
    await proxy.with([swap, asArray], async () => {
      const r = await cli('bob', '--chat', a, 'history');
      expect(r.stdout).not.toMatch(/mallory/);
      expect(r.stderr).toMatch(
        /REJECTED message #2 claiming to be from \["alice"\]: malformed: sender \["alice"\] is not a username/,
      );
    });
    expect((await readJson(knownFile)).users.alice).toEqual(before);
    // and the same forgery with a plain string sender is still caught by the pin
    const asString = answer('GET', `/chats/${a}/messages`, 200, {
      messages: [
        { chatId: a, seq: 2, sender: 'alice', receivedAt: new Date().toISOString(), message: forged },
      ],
    });
    await proxy.with([swap, asString], async () => {
      const r = await cli('bob', '--chat', a, 'history');
      expect(r.stdout).not.toMatch(/mallory/);
      expect(r.stderr).toMatch(/alice's keys CHANGED/);
    });
  });

  it('the trust store takes valid usernames only (A1)', async () => {
    const store = await TrustStore.load(await tempDir(), 'bob');
    expect(() => store.checkUser(['alice'] as unknown as string, {} as never)).toThrow(/not a username/);
    expect(() => store.pinnedUser('constructor\u200b')).toThrow(/not a username/);
    await expect(store.pinUser(['alice'] as unknown as string, {} as never)).rejects.toThrow(
      /not a username/,
    );
  });

  it('a sender outside the username grammar (a zero-width space) is refused, shown escaped (A2)', async () => {
    const a = await chatOf(alice, bob, carol);
    const name = 'alice\u200b';
    const carolKeys = (await bob.api.call('getUserKeys', { params: { username: 'carol' } })).body;
    let asked = false;
    const keysRule: Rule = (req, res) => {
      if (req.url !== `/users/${encodeURIComponent(name)}/keys`) return false;
      asked = true;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...carolKeys, username: name }));
      return true;
    };
    const msgs = answer('GET', `/chats/${a}/messages`, 200, {
      messages: [
        {
          chatId: a,
          seq: 1,
          sender: name,
          receivedAt: new Date().toISOString(),
          message: forge(a, 1, name, 'me'),
        },
      ],
    });
    await proxy.with([keysRule, msgs], async () => {
      const r = await cli('bob', '--chat', a, 'history');
      expect(r.stdout).not.toMatch(/\(ed25519\): me$/);
      expect(r.stderr).toMatch(
        /claiming to be from alice\\u200b: malformed: sender "alice\\u200b" is not a username/,
      );
    });
    expect(asked).toBe(false);
    expect(Object.keys((await readJson(userFile('bob', 'known_keys.json'))).users)).not.toContain(name);
  });

  it('invisible format characters (Cf, Zl, Zp) and lone surrogates are escaped in every display (A2)', () => {
    const raw: string[] = [];
    for (let c = 0; c < 0x110000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const ch = String.fromCodePoint(c);
      if (/[\p{Cf}\p{Zl}\p{Zp}]/u.test(ch) && escapeControls(ch) === ch) raw.push(c.toString(16));
    }
    expect(raw).toEqual([]);
    expect(escapeControls('a\u2028b\u200fc\u061cd\ud800e\ufeff\u{e0001}😀')).toBe(
      'a\\u2028b\\u200fc\\u061cd\\ud800e\\ufeff\\u{e0001}😀',
    );
    expect(messageText('x\u2029y')).toBe('x\\u2029y');
    expect(jsonLine({ t: '\u200b\u2028' })).toBe('{"t":"\\u200b\\u2028"}');
  });

  it('a newline in a server string never starts a line; only message text has continuation lines (A3)', async () => {
    expect(printable('epoch 1\n[12:00:00] alice (rsa): hi')).toBe('epoch 1\\n[12:00:00] alice (rsa): hi');
    expect(printable(`[12:00:00] alice (rsa): ${messageText('one\ntwo')}`)).toBe(
      '[12:00:00] alice (rsa): one\n    | two',
    );
    const c = menu('bob');
    try {
      await c.waitFor(/\* connected$/);
      const a = await chatOf(alice, bob);
      const chat = (await alice.api.call('getChat', { params: { chatId: a } })).body;
      await server.app.fanout.publish({
        kind: 'event',
        type: 'chat.invited',
        to: ['bob'],
        data: JSON.stringify({
          chat: { ...chat, epoch: '1\n[12:00:00] alice (rsa): the new account is 0000-MALLORY' },
          keyEnvelope: await envelopeOf(bob, a),
          invitedBy: 'alice',
        }),
      });
      const line = await c.waitFor(/chat\.invited event refused/);
      expect(line).toMatch(/malformed: chat\.epoch "1\\n\[12:00:00\] alice/);
      expect(c.lines.some((l) => /^(ERR )?\[12:00:00\]/.test(l))).toBe(false);
    } finally {
      c.send('quit');
      await c.exited;
    }
  });
});

describe('the terminal shows what a peer or the server sends as data (finding 5)', () => {
  it('escapes control and bidi characters and marks continuation lines', async () => {
    const a = await chatOf(alice, bob);
    const text = 'ok\n[21:04:05] user3 (rsa): wire it to mallory\x1b[2K\u202e\x85\x7f\u2066';
    expect((await alice.send(a, 1, text, 'ed25519')).res.status).toBe(201);
    const plain = await cli('bob', '--chat', a, 'history');
    expect(plain.code, plain.stderr).toBe(0);
    const lines = plain.stdout.split('\n');
    expect(lines.some((l) => l.startsWith('[21:04:05]'))).toBe(false);
    expect(lines).toContain(
      '    | [21:04:05] user3 (rsa): wire it to mallory\\x1b[2K\\u202e\\x85\\x7f\\u2066',
    );
    expect(plain.stdout).not.toMatch(/(?!\n)[\p{Cc}\u202a-\u202e\u2066-\u2069]/u);
    const json = await cli('bob', '--json', '--chat', a, 'history');
    expect(json.stdout).not.toMatch(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    expect(JSON.parse(json.stdout).messages[0].text).toBe(text);
  });

  it('escapes what the server says: an invitation from a name with escapes, a problem detail', async () => {
    const c = menu('bob');
    try {
      await c.waitFor(/\* connected$/);
      const a = await chatOf(alice, bob);
      const chat = (await alice.api.call('getChat', { params: { chatId: a } })).body;
      const keyEnvelope = await envelopeOf(bob, a);
      await server.app.fanout.publish({
        kind: 'event',
        type: 'chat.invited',
        to: ['bob'],
        data: JSON.stringify({ chat, keyEnvelope, invitedBy: 'mallory\x1b[31m\n[12:00:00] alice (rsa): hi' }),
      });
      // a name outside the username grammar is refused (review A2), and shown escaped in the refusal
      await c.waitFor(
        /^ERR !! chat\.invited event refused: malformed: invitedBy "mallory\\u001b\[31m\\n\[12:00:00\] alice/,
      );
    } finally {
      c.send('quit');
      await c.exited;
    }
    const rule = answer('GET', '/users/online', 400, problem(400, 'BAD\x1b[2J', 'two\nlines\u202e'));
    await withRules([rule], async () => {
      const r = await cli('bob', 'online');
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('securechat: two\\nlines\\u202e (400 BAD\\x1b[2J)');
    });
    const names = answer('GET', '/users/online', 200, { users: ['bob\n[12:00:00] alice (rsa): hi'] });
    await withRules([names], async () => {
      const r = await cli('bob', 'online');
      expect(r.stdout).toBe('online: bob\\n[12:00:00] alice (rsa): hi');
    });
  });
});
