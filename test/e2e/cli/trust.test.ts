import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../../../scripts/child.js';
import { readPublicKeys } from '../../../src/crypto/keystore.js';
import { chatOf } from '../../support/chats.js';
import { cliEnv, cliOf } from '../../support/cli.js';
import { answer, envelopeOf, type LyingProxy, type Rule, startProxy } from '../../support/cli-proxy.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer, tempDir } from '../../support/helper.js';

/**
 * The CLI against a server that serves genuinely server-signed but wrong data: a proxy in front of
 * the real server answers chosen requests itself (another chat's envelope, an older epoch's, another
 * chat's messages, repeats) and passes everything else through, event stream included.
 */
/** Runs `fn` with `rules` in front of the proxy's pass-through, and takes them out after. */
const withRules = <T>(rules: Rule[], fn: () => Promise<T>): Promise<T> => proxy.with(rules, fn);

const problem = (status: number, code: string, detail: string) => ({
  type: 'about:blank',
  title: code,
  status,
  code,
  detail,
});

let server: TestServer;
let proxy: LyingProxy;
let env: Record<string, string>;
let alice: Participant;
let bob: Participant;

const { cli, menu } = cliOf(() => env);
const oneLine = (stderr: string) => expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);

/** Registers a user whose key store is a copy of carol's (the server allows equal public keys). */
async function registerCopyOf(username: string): Promise<void> {
  const dir = path.join(server.keysDir, 'users', username);
  await cp(path.join(server.keysDir, 'users', 'carol'), dir, { recursive: true });
  await server.app.accounts.register(username, PASSWORD, await readPublicKeys(dir));
}

async function stateOf(user: string) {
  return JSON.parse(await readFile(path.join(server.keysDir, 'users', user, 'state.json'), 'utf8'));
}

beforeAll(async () => {
  // every CLI run logs in: more than the default 30 a minute from this address
  server = await startServer({ PRESENCE_GRACE_MS: '60000', SECURECHAT_LOGIN_LIMIT: '1000000' });
  proxy = await startProxy(server.url);
  env = cliEnv(proxy.url, server.keysDir);
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  // online, so that inviting carol rotates a chat's key
  await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
});
afterAll(async () => {
  await proxy?.close();
  await server?.close();
});

describe('finding 1: key envelopes are bound to their chat and never roll back', () => {
  it('refuses, for chat A, the genuine envelope of chat B, and sends nothing', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    const rule = answer('GET', `/chats/${a}/key`, 200, await envelopeOf(bob, b));
    await withRules([rule], async () => {
      const r = await cli('bob', '--chat', a, 'send', 'for chat A only');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `WARNING: key envelope refused: it is for chat ${b.slice(0, 8)}, not chat ${a.slice(0, 8)}`,
      );
      oneLine(r.stderr);
    });
    const history = await alice.api.call('listMessages', { params: { chatId: a } });
    expect(history.body.messages).toEqual([]);
  });

  it('refuses an older epoch after a restart, and a STALE_EPOCH that disagrees with the envelope', async () => {
    const a = await chatOf(alice, bob);
    const old = await envelopeOf(bob, a);
    expect(old.epoch).toBe(1);
    await alice.api.call('inviteToChat', { params: { chatId: a }, body: { invitees: ['carol'] } });
    // one real send: bob's client sees epoch 2 and keeps it on disk
    const first = await cli('bob', '--chat', a, 'send', 'at epoch 2');
    expect(first.code, first.stderr).toBe(0);
    expect((await stateOf('bob')).epochs[a]).toBe(2);

    // A replay, in a new process: "your epoch is stale, the key is (the genuine, old) epoch 1".
    const stale = answer(
      'POST',
      `/chats/${a}/messages`,
      409,
      problem(409, 'STALE_EPOCH', 'The chat is at epoch 1; re-encrypt under its current key.'),
    );
    const key = answer('GET', `/chats/${a}/key`, 200, old);
    proxy.rules.push(stale, key);
    try {
      const r = await cli('bob', '--chat', a, 'send', 'under a rolled-back key?');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `WARNING: key envelope refused: chat ${a.slice(0, 8)}: epoch 1 is older than epoch 2, already seen`,
      );
      oneLine(r.stderr);
      // The answer names epoch 3; the envelope served as current is epoch 2, older than that.
      proxy.rules.splice(0, proxy.rules.length);
      proxy.rules.push(
        answer(
          'POST',
          `/chats/${a}/messages`,
          409,
          problem(409, 'STALE_EPOCH', 'The chat is at epoch 3; re-encrypt under its current key.'),
        ),
      );
      const r2 = await cli('bob', '--chat', a, 'send', 'again');
      expect(r2.code).toBe(1);
      expect(r2.stderr).toContain(
        `chat ${a.slice(0, 8)}: the server named epoch 3, the envelope is of epoch 2`,
      );
      oneLine(r2.stderr);
    } finally {
      proxy.rules.splice(0, proxy.rules.length);
    }
    const history = await alice.api.call('listMessages', { params: { chatId: a } });
    expect(history.body.messages.map((m: { message: { epoch: number } }) => m.message.epoch)).toEqual([2]);
  });

  it('refuses a chat.key event whose envelope is for another chat, or older than one seen', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    const envB = await envelopeOf(bob, b);
    const old = await envelopeOf(bob, a);
    const c = menu('bob');
    try {
      await c.waitFor(/\* connected$/);
      c.send(`switch ${a.slice(0, 8)}`);
      await c.waitFor(/now in chat/);
      const publish = (data: unknown) =>
        server.app.fanout.publish({
          kind: 'event',
          type: 'chat.key',
          to: ['bob'],
          data: JSON.stringify(data),
        });
      await publish({ chatId: a, keyEnvelope: envB });
      await c.waitFor(
        new RegExp(
          `^ERR !! chat.key event refused: WARNING: key envelope refused: it is for chat ${b.slice(0, 8)}, not chat ${a.slice(0, 8)}$`,
        ),
      );
      // the key of A is still A's: a message to A is sent and read under it
      c.send('still under the right key');
      await c.waitFor(/bob \(rsa\): still under the right key$/);
      await alice.api.call('inviteToChat', { params: { chatId: a }, body: { invitees: ['carol'] } });
      await c.waitFor(/the chat key rotated \(epoch 2\)$/);
      expect(old.epoch).toBe(1);
      await publish({ chatId: a, keyEnvelope: old });
      await c.waitFor(/chat.key event refused: .*epoch 1 is older than epoch 2, already seen/);
    } finally {
      c.send('quit');
      await c.exited;
    }
  });
});

describe('finding 6: messages of another chat and repeats', () => {
  it('history refuses another chat\u2019s messages and shows a repeated id once (plain and --json)', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    expect((await alice.send(a, 1, 'in A', 'ed25519')).res.status).toBe(201);
    expect((await alice.send(b, 1, 'in B, shown as A?', 'ed25519')).res.status).toBe(201);
    const inA = (await alice.api.call('listMessages', { params: { chatId: a } })).body.messages;
    const inB = (await alice.api.call('listMessages', { params: { chatId: b } })).body.messages;
    const rule = answer('GET', `/chats/${a}/messages`, 200, { messages: [...inA, ...inB, ...inA] });
    await withRules([rule], async () => {
      const json = await cli('bob', '--json', '--chat', a, 'history');
      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout).messages.map((m: { text: string }) => m.text)).toEqual(['in A']);
      expect(json.stderr).toMatch(
        new RegExp(
          `REJECTED message #1 claiming to be from alice: it belongs to chat ${b.slice(0, 8)}, not to chat ${a.slice(0, 8)}`,
        ),
      );
      expect(json.stderr).toMatch(
        /REJECTED message #1 claiming to be from alice: message [0-9a-f-]{36} was already shown/,
      );
      const plain = await cli('bob', '--chat', a, 'history');
      expect(plain.stdout.split('\n').filter((l) => l.includes(': in '))).toHaveLength(1);
      expect(plain.stdout).not.toContain('in B');
    });
  });

  it('the live stream and listen --json show each (chat, id) once and only the chat asked for', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    const listen = new CliProcess(
      ['--user', 'bob', '--password-stdin', '--json', '--chat', a, 'listen'],
      env,
    );
    listen.send(PASSWORD);
    const c = menu('bob');
    try {
      await listen.waitFor(/^ERR \* connected$/);
      await c.waitFor(/\* connected$/);
      const once = await alice.send(a, 1, 'once', 'rsa-pss-sha256');
      const inB = await alice.send(b, 1, 'of chat B', 'rsa-pss-sha256');
      const data = {
        chatId: a,
        seq: once.res.body.seq,
        sender: 'alice',
        receivedAt: once.res.body.receivedAt,
        message: once.body,
      };
      // the server (or a replay) delivers the same message again
      await server.app.fanout.publish({
        kind: 'event',
        type: 'message',
        to: ['bob'],
        data: JSON.stringify(data),
      });
      await alice.send(a, 1, 'last', 'rsa-pss-sha256');
      await c.waitFor(/alice \(rsa\): once$/);
      await c.waitFor(/alice \(rsa\): last$/);
      // stderr is another pipe: a command answered on stderr after "last" has it all in
      c.send('nonsense');
      await c.waitFor(/^ERR !! unknown command nonsense/);
      expect(
        c.lines.filter((l) =>
          /REJECTED message #1 claiming to be from alice: message [0-9a-f-]{36} was already shown/.test(l),
        ),
      ).toHaveLength(1);
      expect(c.lines.filter((l) => l.endsWith('alice (rsa): once'))).toHaveLength(1);
      await listen.waitFor(/"seq":2/);
      const events = listen.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      const messages = events.filter((e) => e.event === 'message');
      expect(messages.map((e) => [e.data.chatId, e.data.message.id])).toEqual([
        [a, once.body.id],
        [a, messages[1].data.message.id],
      ]);
      expect(events.some((e) => e.data.message?.id === inB.body.id)).toBe(false);
    } finally {
      listen.kill();
      c.send('quit');
      await c.exited;
    }
  });
});

describe('finding 5: the terminal shows what a peer or the server sends as data', () => {
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

describe('findings 9, 10, 11: trust, names from outside, where the client keeps its state', () => {
  const realFingerprintOf = async (user: string) => {
    const r = await cli('bob', '--json', 'fingerprint', user);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout).all as string;
  };

  it('trust pins the fingerprint given or the keys shown, never what the server says later', async () => {
    const a = await chatOf(alice, bob);
    expect((await alice.send(a, 1, 'hi', 'ed25519')).res.status).toBe(201);
    expect((await cli('bob', '--chat', a, 'history')).stdout).toMatch(/alice \(ed25519\): hi$/);
    const genuine = await realFingerprintOf('alice');
    // the server now hands out carol's keys as alice's
    const carolKeys = (await bob.api.call('getUserKeys', { params: { username: 'carol' } })).body;
    const swap = answer('GET', '/users/alice/keys', 200, { ...carolKeys, username: 'alice' });
    proxy.rules.push(swap);
    try {
      expect((await cli('bob', '--chat', a, 'history')).stderr).toMatch(/alice's keys CHANGED/);
      const bare = await cli('bob', 'trust', 'alice');
      expect(bare.code).toBe(1);
      expect(bare.stderr).toMatch(/compare alice's fingerprints first/);
      const shown = await realFingerprintOf('alice');
      expect(shown).not.toBe(genuine);
      const wrong = await cli('bob', 'trust', 'alice', '0'.repeat(64));
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/not the 0{64} you gave; nothing trusted/);

      // in the menu, a bare `trust` pins what `fingerprint` showed, and only that
      const c = menu('bob');
      try {
        await c.waitFor(/\* connected$/);
        c.send('fingerprint alice');
        await c.waitFor(new RegExp(`all keys +${shown}`));
        proxy.rules.splice(proxy.rules.indexOf(swap), 1);
        c.send('trust alice');
        await c.waitFor(/^ERR !! alice's keys changed again since they were shown; nothing trusted/);
        proxy.rules.push(swap);
        c.send('trust alice');
        await c.waitFor(new RegExp(`^now trusting alice's keys ${shown}$`));
      } finally {
        c.send('quit');
        await c.exited;
      }
      const known = JSON.parse(
        await readFile(path.join(server.keysDir, 'users', 'bob', 'known_keys.json'), 'utf8'),
      );
      expect(known.users.alice.encryption).toBe(carolKeys.fingerprints.encryption);
    } finally {
      proxy.rules.splice(0, proxy.rules.length);
    }
    const back = await cli('bob', 'trust', 'alice', genuine);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe(`now trusting alice's keys ${genuine}`);
  });

  it('refuses a peer key that registration would refuse (a 1024-bit RSA key)', async () => {
    const a = await chatOf(alice, bob);
    expect((await alice.send(a, 1, 'signed with ed25519', 'ed25519')).res.status).toBe(201);
    const real = (await bob.api.call('getUserKeys', { params: { username: 'alice' } })).body;
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const rule = answer('GET', '/users/alice/keys', 200, {
      ...real,
      signingKeys: { ...real.signingKeys, 'rsa-pss-sha256': weak },
    });
    await withRules([rule], async () => {
      const h = await cli('bob', '--chat', a, 'history');
      expect(h.stdout).not.toContain('signed with ed25519');
      expect(h.stderr).toMatch(
        /REJECTED message #1 claiming to be from alice: the server sent keys for alice that are refused: rsa-pss-sha256 key must be RSA of (at least )?2048\b/,
      );
    });
  });

  it('fingerprint and trust --server work when the server key changed; `server` is a username', async () => {
    expect((await cli('dave', 'online')).code).toBe(0);
    const file = path.join(server.keysDir, 'users', 'dave', 'known_keys.json');
    const known = JSON.parse(await readFile(file, 'utf8'));
    const real = (await bob.api.call('getServerKey')).body.fingerprint;
    expect(known.servers[proxy.url]).toBe(real);
    known.servers[proxy.url] = '0'.repeat(64);
    await writeFile(file, JSON.stringify(known));
    const watch = await bob.events();
    try {
      const refused = await cli('dave', 'online');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `the server's signing key CHANGED (pinned ${'0'.repeat(64)}, now ${real})`,
      );
      oneLine(refused.stderr);
      // issue 17 item 2: logged in, then refused: logged out at once (the grace period is 60 s here)
      await watch.nextOf('presence', (d) => d.username === 'dave' && d.online === false);
    } finally {
      watch.close();
    }
    const shown = await cli('dave', 'fingerprint');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`signing +${real} +CHANGED since pinned!`));
    expect(shown.stdout).toMatch(new RegExp(`pinned +${'0'.repeat(64)}`));
    const bare = await cli('dave', 'trust', '--server');
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain(`the server key is ${real} (pinned: ${'0'.repeat(64)})`);
    const wrong = await cli('dave', 'trust', '--server', '1'.repeat(64));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/nothing trusted/);
    const ok = await runCli(
      ['--server', proxy.url, '--user', 'dave', 'trust', '--server', real, '--password-stdin'],
      env,
      PASSWORD,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`now trusting the server key ${real}`);
    expect((await cli('dave', 'online')).code).toBe(0);
    const user = await cli('dave', 'trust', 'server', '1'.repeat(64));
    expect(user.code).toBe(1);
    expect(user.stderr).toMatch(/USER_NOT_FOUND/);
  });

  it('a user named constructor is a user like any other', async () => {
    await registerCopyOf('constructor');
    const ctor = await Participant.login(server.url, server.keysDir, 'constructor', PASSWORD);
    const a = await chatOf(ctor, bob);
    expect((await ctor.send(a, 1, 'hello from constructor', 'rsa-pss-sha256')).res.status).toBe(201);
    const h = await cli('bob', '--chat', a, 'history');
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/constructor \(rsa\): hello from constructor$/);
    expect(h.stderr).toBe('');
    const c = menu('bob');
    try {
      await c.waitFor(/\* connected$/);
      c.send('sig constructor');
      await c.waitFor(/^ERR !! unknown signature scheme constructor/);
      c.send('fingerprint constructor');
      await c.waitFor(/^constructor's keys, as the server has them:$/);
    } finally {
      c.send('quit');
    }
    expect(await c.exited).toBe(0);
  });

  it('keeps client state in the user\u2019s own folder, moving the old files; a dotted username breaks nothing', async () => {
    const users = path.join(server.keysDir, 'users');
    const real = (await bob.api.call('getServerKey')).body.fingerprint;
    const pins = { servers: { [proxy.url]: real }, users: { alice: { encryption: '0'.repeat(64) } } };
    await writeFile(path.join(users, 'erin.known_keys.json'), JSON.stringify(pins));
    await writeFile(
      path.join(users, 'erin.state.json'),
      JSON.stringify({ sig: 'dsa-sha256', envelopes: {} }),
    );
    const r = await cli('erin', 'fingerprint', 'alice');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/encryption +[0-9a-f]{64} +CHANGED since pinned!/);
    await expect(readFile(path.join(users, 'erin.known_keys.json'))).rejects.toThrow(/ENOENT/);
    await expect(readFile(path.join(users, 'erin.state.json'))).rejects.toThrow(/ENOENT/);
    expect(JSON.parse(await readFile(path.join(users, 'erin', 'known_keys.json'), 'utf8'))).toEqual(pins);
    expect(JSON.parse(await readFile(path.join(users, 'erin', 'state.json'), 'utf8')).sig).toBe('dsa-sha256');

    // usernames may hold dots: this one's key store folder is where old clients kept bob's pins
    await registerCopyOf('bob.known_keys.json');
    const bobs = await cli('bob', 'online');
    expect(bobs.code, bobs.stderr).toBe(0);
    const dotted = await cli('bob.known_keys.json', 'online');
    expect(dotted.code, dotted.stderr).toBe(0);
  });
});

describe('finding 14 (client parts): event size, plain http', () => {
  it('cuts an event stream whose event never ends, and resumes', async () => {
    let served = 0;
    const endless: Rule = (req, res) => {
      if (req.url !== '/events' || served++ > 0) return false;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: message\ndata: ');
      const chunk = 'x'.repeat(64 * 1024);
      // 3 MiB without the blank line that ends an event, then nothing: the client must not wait
      for (let i = 0; i < 48; i++) res.write(chunk);
      return true;
    };
    proxy.rules.push(endless);
    const listen = new CliProcess(['--user', 'bob', '--password-stdin', 'listen'], env);
    listen.send(PASSWORD);
    try {
      await listen.waitFor(/^ERR \* the server sent an event longer than 2097152 characters; retrying/);
      await listen.waitFor(/^ERR \* connected$/);
    } finally {
      proxy.rules.splice(proxy.rules.indexOf(endless), 1);
      listen.kill();
    }
  });

  it('refuses to send a password over plain http:// to another host without --insecure', async () => {
    const r = await runCli(
      ['--server', 'http://192.0.2.10:8080', '--user', 'bob', '--password-stdin', 'online'],
      env,
      PASSWORD,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /refusing to send your password over plain http:\/\/ to 192\.0\.2\.10: use https:\/\//,
    );
    oneLine(r.stderr);
    const insecure = await runCli(
      ['--server', 'http://chat.invalid:8080', '--insecure', '--user', 'bob', '--password-stdin', 'online'],
      env,
      PASSWORD,
    );
    expect(insecure.code).toBe(1);
    expect(insecure.stderr.split('\n')).toEqual([
      expect.stringMatching(/WARNING: --insecure: .* to chat\.invalid unencrypted/),
      'securechat: cannot resolve the server host name',
    ]);
  });
});

describe("issue 17: a newcomer's first hour", () => {
  it('Ctrl-C in listen logs out (item 2)', async () => {
    const watch = await bob.events();
    const listen = new CliProcess(['--user', 'erin', '--password-stdin', 'listen'], env);
    listen.send(PASSWORD);
    try {
      await listen.waitFor(/^ERR \* connected$/);
      await watch.nextOf('presence', (d) => d.username === 'erin' && d.online === true);
      // the child is private to CliProcess; a signal is what Ctrl-C sends
      (listen as unknown as { child: ChildProcess }).child.kill('SIGINT');
      expect(await listen.exited).toBe(0);
      // the grace period is 60 s here: only a logout makes erin offline this soon
      await watch.nextOf('presence', (d) => d.username === 'erin' && d.online === false);
    } finally {
      watch.close();
    }
  });

  it('decrypt says what is wrong: no envelope, another user\u2019s envelope, a missing file (item 5)', async () => {
    const noEnvelope = await runCli(['--user', 'carol', 'decrypt'], env, JSON.stringify({ chats: [] }));
    expect(noEnvelope.code).toBe(1);
    expect(noEnvelope.stderr).toMatch(/^securechat: this JSON holds no key envelope/);
    const a = await chatOf(alice, bob);
    const bobs = JSON.stringify(await envelopeOf(bob, a));
    const other = await runCli(['--user', 'carol', 'decrypt'], env, bobs);
    expect(other.code).toBe(1);
    expect(other.stderr).toBe(
      "securechat: cannot unwrap: this key was not wrapped for carol's encryption key (or it was altered)",
    );
    const missing = await runCli(
      ['--user', 'bob', 'decrypt', '--server-key', '/nonexistent/server.pub.pem'],
      env,
      bobs,
    );
    expect(missing.stderr).toBe('securechat: --server-key /nonexistent/server.pub.pem: no such file');
    const mine = await runCli(['--user', 'bob', 'decrypt'], env, bobs);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toMatch(/chat key \(AES-256, hex\): [0-9a-f]{64}$/);
  });

  it('keys live in a per-user folder by default, and the error says where (item 10)', async () => {
    const home = await tempDir();
    try {
      const base = { SECURECHAT_SERVER: proxy.url, SECURECHAT_KEYS_DIR: '', HOME: home };
      const dot = await runCli(
        ['--user', 'bob', '--password-stdin', 'online'],
        { ...base, XDG_DATA_HOME: '' },
        PASSWORD,
      );
      expect(dot.code).toBe(1);
      expect(dot.stderr).toContain(
        `no readable key store for bob in ${path.join(home, '.securechat', 'users', 'bob')}`,
      );
      expect(dot.stderr).toMatch(/pass --keys DIR \(or set SECURECHAT_KEYS_DIR\)/);
      const xdg = path.join(home, 'data');
      const r = await runCli(
        ['--user', 'bob', '--password-stdin', 'online'],
        { ...base, XDG_DATA_HOME: xdg },
        PASSWORD,
      );
      expect(r.stderr).toContain(
        `no readable key store for bob in ${path.join(xdg, 'securechat', 'users', 'bob')}`,
      );
      await cp(path.join(server.keysDir, 'users', 'bob'), path.join(xdg, 'securechat', 'users', 'bob'), {
        recursive: true,
      });
      const ok = await runCli(
        ['--user', 'bob', '--password-stdin', 'online'],
        { ...base, XDG_DATA_HOME: xdg },
        PASSWORD,
      );
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('help names its sections; 429 says how long; send names --chat and prints the seq (item 11)', async () => {
    const help = await runCli(['--help'], env);
    expect(help.stdout).toMatch(/^One-shot commands \(securechat \[options\] <command>\):$/m);
    expect(help.stdout).toMatch(/^Menu commands \(interactive\):$/m);
    expect(help.stdout).not.toMatch(/^Commands:$/m);

    const limited = answer('POST', '/auth/login', 429, problem(429, 'RATE_LIMITED', 'Too many requests.'), {
      'retry-after': '42',
    });
    await withRules([limited], async () => {
      const r = await cli('bob', 'online');
      expect(r.stderr).toBe('securechat: login refused: too many attempts; try again in 42 s');
    });

    const noChat = await cli('bob', 'send', 'hello');
    expect(noChat.code).toBe(1);
    expect(noChat.stderr).toMatch(/^securechat: send needs --chat ID/);
    const a = await chatOf(alice, bob);
    await alice.send(a, 1, 'first', 'ed25519');
    const sent = await cli('bob', '--chat', a.slice(0, 8), 'send', 'second');
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toBe(`sent as #2 in chat ${a.slice(0, 8)} (epoch 1)`);
  });

  it('a certificate error suggests --ca FILE (item 11)', async () => {
    const tls = await startServer({ SECURECHAT_TLS: 'self-signed' });
    try {
      const r = await runCli(
        ['--server', tls.url, '--user', 'bob', '--password-stdin', 'online'],
        { SECURECHAT_KEYS_DIR: tls.keysDir },
        PASSWORD,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^securechat: the server's certificate is not trusted \(.*\): .*pass it with --ca FILE/,
      );
    } finally {
      await tls.close();
    }
  });
});
