import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_HISTORY_PAGES } from '../../../cli/commands/messages.js';
import { jsonLine, messageText, printable } from '../../../cli/format.js';
import { Session } from '../../../cli/session.js';
import { TrustStore } from '../../../cli/trust.js';
import { CliProcess } from '../../../scripts/child.js';
import { escapeControls } from '../../../src/client/index.js';
import { seal } from '../../../src/crypto/aead.js';
import { toBase64 } from '../../../src/crypto/base64.js';
import { messageAad, messageSigningInput } from '../../../src/crypto/canonical.js';
import { signSync } from '../../../src/crypto/signatures.js';
import { chatOf } from '../../support/chats.js';
import { cliEnv, cliOf } from '../../support/cli.js';
import { answer, envelopeOf, type LyingProxy, type Rule, startProxy } from '../../support/cli-proxy.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer, tempDir } from '../../support/helper.js';

/**
 * The adversarial review of the CLI's checks (tests A1–A11 of the review, and its race scripts):
 * each attack, against the real CLI over real HTTP through a proxy that lies, and refused.
 */

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'cli', 'bin.js');

let server: TestServer;
let proxy: LyingProxy;
let env: Record<string, string>;
let alice: Participant;
let bob: Participant;
let carol: Participant;

const { cli, menu } = cliOf(() => env);

const userFile = (user: string, name: string) => path.join(server.keysDir, 'users', user, name);
const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

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

/** The CLI spawned directly as bob (to send it signals and close its pipes). */
function spawnCli(args: string[]) {
  const child = spawn(process.execPath, [BIN, '--user', 'bob', '--password-stdin', ...args], {
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  child.stdin.write(`${PASSWORD}\n`);
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on('data', (d) => {
    out += d;
    wake();
  });
  child.stderr.on('data', (d) => {
    err += d;
    wake();
  });
  const exited = new Promise<number | string>((r) =>
    child.on('close', (code, sig) => r(code ?? String(sig))),
  );
  /** Resolves when `test` holds of (stdout, stderr), checked on every chunk. */
  const until = async (test: (out: string, err: string) => boolean) => {
    while (!test(out, err)) await new Promise<void>((r) => waiters.push(r));
  };
  return { child, exited, until, out: () => out, err: () => err };
}

/** 200 while the token is live, 401 once it was logged out. */
async function tokenStatus(token: string): Promise<number> {
  const r = await request(`${server.url}/users/online`, { headers: { authorization: token } });
  await r.body.text();
  return r.statusCode;
}

/** A rule that notes bob's token (from the request for the server key) and passes everything on. */
function tokenSpy(): { rule: Rule; token: () => string } {
  let token = '';
  return {
    rule: (req) => {
      if (req.url === '/server/key') token = String(req.headers.authorization);
      return false;
    },
    token: () => token,
  };
}

beforeAll(async () => {
  // every CLI run logs in, and alice makes a chat per test: more than the per-minute defaults
  server = await startServer({
    PRESENCE_GRACE_MS: '60000',
    SECURECHAT_LOGIN_LIMIT: '1000000',
    SECURECHAT_CHAT_LIMIT: '1000000',
    SECURECHAT_MEMBERSHIP_LIMIT: '1000000',
  });
  proxy = await startProxy(server.url);
  env = cliEnv(proxy.url, server.keysDir);
  alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
  // online, so that inviting carol rotates a chat's key
  carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
});
afterAll(async () => {
  await proxy?.close();
  await server?.close();
});

describe('review of the CLI: server data of the wrong shape or grammar (A1, A2, A3)', () => {
  it('A1: a sender that is a JSON array is refused and leaves alice\u2019s pin alone', async () => {
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

  it('A1: the trust store takes valid usernames only', async () => {
    const store = await TrustStore.load(await tempDir(), 'bob');
    expect(() => store.checkUser(['alice'] as unknown as string, {} as never)).toThrow(/not a username/);
    expect(() => store.pinnedUser('constructor\u200b')).toThrow(/not a username/);
    await expect(store.pinUser(['alice'] as unknown as string, {} as never)).rejects.toThrow(
      /not a username/,
    );
  });

  it('A2: a sender outside the username grammar (a zero-width space) is refused, shown escaped', async () => {
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

  it('A2: invisible format characters (Cf, Zl, Zp) and lone surrogates are escaped in every display', () => {
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

  it('A3: a newline in a server string never starts a line; only message text has continuation lines', async () => {
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

describe('review of the CLI: replays (A4, A5, A10, history)', () => {
  it('A4: listen --chat A --json ignores chat B\u2019s message and prints checked fields only', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    const listen = new CliProcess(
      ['--user', 'bob', '--password-stdin', '--json', '--chat', a, 'listen'],
      env,
    );
    listen.send(PASSWORD);
    try {
      await listen.waitFor(/^ERR \* connected$/);
      const inB = await alice.send(b, 1, 'said in chat B only', 'ed25519');
      await server.app.fanout.publish({
        kind: 'event',
        type: 'message',
        to: ['bob'],
        data: JSON.stringify({
          chatId: b,
          chat: { id: a },
          seq: inB.res.body.seq,
          sender: 'alice',
          receivedAt: inB.res.body.receivedAt,
          message: inB.body,
        }),
      });
      const inA = await alice.send(a, 1, 'said in chat A', 'ed25519');
      const line = JSON.parse(await listen.waitFor(/"event":"message"/));
      expect(line.data).toEqual({
        chatId: a,
        seq: inA.res.body.seq,
        sender: 'alice',
        receivedAt: inA.res.body.receivedAt,
        message: { id: inA.body.id, epoch: 1, sentAt: inA.body.sentAt, signatureAlgorithm: 'ed25519' },
        text: 'said in chat A',
        verified: true,
      });
      expect(listen.lines.some((l) => l.includes(b))).toBe(false);
    } finally {
      listen.kill();
    }
  });

  it('A5: a message history showed is not shown again by the live stream', async () => {
    const a = await chatOf(alice, bob);
    const sent = await alice.send(a, 1, 'shown once?', 'ed25519');
    const c = menu('bob');
    try {
      await c.waitFor(/\* connected$/);
      c.send(`switch ${a}`);
      await c.waitFor(/now in chat/);
      c.send('history');
      await c.waitFor(/alice \(ed25519\): shown once\?$/);
      await server.app.fanout.publish({
        kind: 'event',
        type: 'message',
        to: ['bob'],
        data: JSON.stringify({
          chatId: a,
          seq: sent.res.body.seq,
          sender: 'alice',
          receivedAt: sent.res.body.receivedAt,
          message: sent.body,
        }),
      });
      await c.waitFor(
        /REJECTED message #1 claiming to be from alice: message [0-9a-f-]{36} was already shown/,
      );
      expect(c.lines.filter((l) => l.endsWith('alice (ed25519): shown once?'))).toHaveLength(1);
    } finally {
      c.send('quit');
      await c.exited;
    }
  });

  it('A10: a replayed POST /chats answer (an existing chat) is refused and nothing is sent to it', async () => {
    const made = await cli('bob', '--json', 'chat', 'alice', 'carol');
    expect(made.code, made.stderr).toBe(0);
    const x = JSON.parse(made.stdout).chat;
    const shownMembers = x.members.filter((m: { username: string }) => m.username !== 'carol');
    const replay = answer('POST', '/chats', 201, {
      chat: { ...x, members: shownMembers },
      keyEnvelope: await envelopeOf(bob, x.id),
      unavailable: [],
    });
    await proxy.with([replay], async () => {
      const r = await cli('bob', 'chat', 'alice');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(
        /^securechat: WARNING: the server answered with chat [0-9a-f]{8} .*not a chat just created by you/,
      );
      const j = await cli('bob', '--json', 'chat', 'alice');
      expect(j.code).not.toBe(0);
      expect(j.stdout).toBe('');
    });
    // a fresh chat at a later epoch, or one created by another, is refused too
    const later = answer('POST', '/chats', 201, {
      chat: { ...x, id: randomUUID(), epoch: 2 },
      keyEnvelope: await envelopeOf(bob, x.id),
      unavailable: [],
    });
    await proxy.with([later], async () => {
      expect((await cli('bob', 'chat', 'alice')).stderr).toMatch(/epoch 2, created by bob/);
    });
  });

  it('history stops following a server that answers full pages with a rising seq forever', async () => {
    const a = await chatOf(alice, bob);
    const sent = await alice.send(a, 1, 'the only one', 'ed25519');
    let pages = 0;
    const endless: Rule = (req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== `/chats/${a}/messages`) return false;
      const after = Number(new URL(req.url, 'http://x').searchParams.get('after'));
      pages++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          messages: [
            {
              chatId: a,
              seq: after + 1,
              sender: 'alice',
              receivedAt: sent.res.body.receivedAt,
              message: sent.body,
            },
          ],
        }),
      );
      return true;
    };
    await proxy.with([endless], async () => {
      const r = await cli('bob', '--chat', a, '--limit', '1', 'history');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/the server sent 1000 pages of history and more/);
    });
    expect(pages).toBe(MAX_HISTORY_PAGES);
  }, 120_000);
});

describe('review of the CLI: concurrent saves of the client state (A9)', () => {
  it('two accepts at once keep the highest epoch, in memory and on disk', async () => {
    for (let trial = 0; trial < 6; trial++) {
      const a = await chatOf(alice, bob);
      await alice.api.call('inviteToChat', { params: { chatId: a }, body: { invitees: ['carol'] } });
      const e2 = await envelopeOf(bob, a);
      await carol.api.call('leaveChat', { params: { chatId: a } });
      await alice.api.call('inviteToChat', { params: { chatId: a }, body: { invitees: ['carol'] } });
      const e3 = await envelopeOf(bob, a);
      expect(e3.epoch).toBeGreaterThan(e2.epoch);
      const s = await Session.open({
        server: server.url,
        username: 'bob',
        password: PASSWORD,
        keysDir: server.keysDir,
      });
      try {
        const order = trial % 2 ? [e3, e2] : [e2, e3];
        const settled = await Promise.allSettled(order.map((e) => s.accept(e, { chatId: a })));
        expect(settled[order.indexOf(e3)].status).toBe('fulfilled');
        expect(s.trust.state.epochs.get(a)).toBe(e3.epoch);
        // every save has finished once the one after them has
        await s.trust.saveState();
        expect((await readJson(userFile('bob', 'state.json'))).epochs[a]).toBe(e3.epoch);
      } finally {
        await s.close();
      }
    }
    const left = (await readdir(path.join(server.keysDir, 'users', 'bob'))).filter((f) =>
      /\.(tmp|lock)$/.test(f),
    );
    expect(left).toEqual([]);
  });

  it('two processes saving at once lose nothing (a lock around read-merge-write, own temp files)', async () => {
    const dir = await tempDir();
    const script = `
      import { TrustStore } from ${JSON.stringify(path.join(ROOT, 'cli', 'trust.ts'))};
      const [dir, chat, n] = process.argv.slice(1);
      const t = await TrustStore.load(dir, 'u');
      for (let i = 1; i <= Number(n); i++) {
        t.state.envelopes.set(chat + '/' + i, { chatId: chat, epoch: i });
        t.state.epochs.set(chat, i);
        await t.saveState();
      }`;
    const run = (chat: string) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script, dir, chat, '150'],
          { cwd: ROOT, stdio: 'inherit' },
        );
        child.on('close', resolve);
      });
    expect(await Promise.all([run('A'), run('B')])).toEqual([0, 0]);
    const state = await readJson(path.join(dir, 'users', 'u', 'state.json'));
    expect(state.epochs).toEqual({ A: 150, B: 150 });
    const ids = Object.keys(state.envelopes);
    expect(ids.filter((k) => k.startsWith('A/'))).toHaveLength(150);
    expect(ids.filter((k) => k.startsWith('B/'))).toHaveLength(150);
    expect(await readdir(path.join(dir, 'users', 'u'))).toEqual(['state.json']);
  }, 120_000);

  it('a lock left by a client that is gone does not block the next one', async () => {
    const dir = await tempDir();
    const store = await TrustStore.load(dir, 'u');
    const file = path.join(dir, 'users', 'u', 'state.json');
    await store.saveState();
    // a pid that cannot be running (above the kernel's pid_max)
    await writeFile(`${file}.lock`, '4194305');
    store.state.epochs.set('A', 3);
    await store.saveState();
    expect((await readJson(file)).epochs).toEqual({ A: 3 });
  });
});

describe('review of the CLI: every exit logs out (A6, A7, A8)', () => {
  it('A6: Ctrl-C between login and the first command logs out', async () => {
    let token = '';
    let seen!: () => void;
    const atKey = new Promise<void>((r) => {
      seen = r;
    });
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    // the request for the server key (right after login) is held until the CLI has exited
    const hold: Rule = async (req) => {
      if (req.url !== '/server/key') return false;
      token = String(req.headers.authorization);
      seen();
      await held;
      return false;
    };
    await proxy.with([hold], async () => {
      const p = spawnCli(['online']);
      await atKey;
      p.child.kill('SIGINT');
      await p.exited;
      release();
      expect(await tokenStatus(token)).toBe(401);
      expect(p.err()).not.toMatch(/\n\s+at /);
    });
  });

  it('A7: SIGHUP (the terminal closed) in the menu logs out', async () => {
    const spy = tokenSpy();
    await proxy.with([spy.rule], async () => {
      const p = spawnCli([]);
      await p.until((_, err) => err.includes('* connected'));
      p.child.kill('SIGHUP');
      await p.exited;
      expect(spy.token()).not.toBe('');
      expect(await tokenStatus(spy.token())).toBe(401);
    });
  });

  it('A8: listen --json | head -1 (stdout closed) ends quietly and logs out', async () => {
    const a = await chatOf(alice, bob);
    const spy = tokenSpy();
    await proxy.with([spy.rule], async () => {
      const p = spawnCli(['--json', '--chat', a, 'listen']);
      await p.until((_, err) => err.includes('* connected'));
      await alice.send(a, 1, 'one', 'ed25519');
      await p.until((out) => out.includes('"message"'));
      p.child.stdout.destroy();
      // the next lines written meet the closed pipe
      await alice.send(a, 1, 'two', 'ed25519');
      await alice.send(a, 1, 'three', 'ed25519');
      const code = await p.exited;
      expect(code).toBe(0);
      expect(p.err()).not.toMatch(/EPIPE|\n\s+at /);
      expect(await tokenStatus(spy.token())).toBe(401);
    });
  });
});

describe('review of the CLI: trust --server on first contact (A11)', () => {
  it('A11: `trust --server FP` through an impostor pins nothing, and says so', async () => {
    const real = (await bob.api.call('getServerKey')).body.fingerprint;
    const fake = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    const swap = answer('GET', '/server/key', 200, {
      algorithm: 'rsa-pss-sha256',
      publicKey: fake,
      fingerprint: 'x',
    });
    await proxy.with([swap], async () => {
      const r = await cli('dave', 'trust', '--server', real);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/nothing trusted/);
      const f = await cli('dave', 'fingerprint');
      expect(f.code, f.stderr).toBe(0);
    });
    const known = await readJson(userFile('dave', 'known_keys.json')).catch(() => ({ servers: {} }));
    expect(known.servers[proxy.url]).toBeUndefined();
    // the matching fingerprint is pinned
    const ok = await cli('dave', 'trust', '--server', real);
    expect(ok.code, ok.stderr).toBe(0);
    expect((await readJson(userFile('dave', 'known_keys.json'))).servers[proxy.url]).toBe(real);
  });
});
