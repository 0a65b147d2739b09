import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Session } from '../../../cli/session.js';
import { type CliProcess, runCli } from '../../../scripts/child.js';
import { cliEnv, cliOf } from '../../support/cli.js';
import { type EventStream, Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

let server: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '60000' });
  env = cliEnv(server.url, server.keysDir);
});
afterAll(() => server?.close());

const { menu } = cliOf(() => env);

describe('the menu, two people in two terminals', () => {
  it('chat both ways with RSA and DSA; joins, presence, history; quit logs out', async () => {
    const alice = menu('alice');
    const bob = menu('bob');
    try {
      await alice.waitFor(/\* connected$/);
      await bob.waitFor(/\* connected$/);

      alice.send('chat bob erin nobody');
      await alice.waitFor(/^started chat [0-9a-f]{8} \(bob \(invited\), erin \(invited\); epoch 1\)/);
      await alice.waitFor(/^invited — erin is offline and will see it when they connect$/);
      await alice.waitFor(/^ERR there is no user nobody: not invited$/);
      await bob.waitFor(/alice invited you to chat/);
      bob.send('join');
      await bob.waitFor(/^joined chat/);
      await alice.waitFor(/^\* bob joined/);

      alice.send('sig rsa');
      alice.send('hello bob (rsa)');
      await bob.waitFor(/^\[\d\d:\d\d:\d\d\] alice \(rsa\): hello bob \(rsa\)$/);
      bob.send('sig dsa');
      await bob.waitFor(/now signing with dsa/);
      bob.send('hi alice, dsa here');
      await alice.waitFor(/bob \(dsa\): hi alice, dsa here$/);
      alice.send('sig dsa');
      alice.send('dsa from alice ✓');
      await bob.waitFor(/alice \(dsa\): dsa from alice ✓$/);
      bob.send('sig rsa');
      bob.send('rsa from bob');
      await alice.waitFor(/bob \(rsa\): rsa from bob$/);

      alice.send('status bob');
      await alice.waitFor(/^bob is online$/);
      alice.send('all');
      await alice.waitFor(/^online: alice, bob$/);
      bob.send('history 2');
      await bob.waitFor(/alice \(dsa\): dsa from alice ✓$/);
      await bob.waitFor(/bob \(rsa\): rsa from bob$/);

      bob.send('quit');
      await bob.waitFor(/logged out/);
      expect(await bob.exited).toBe(0);
      await alice.waitFor(/^\* bob is offline$/);
      alice.send('bogus-command-without-chat');
    } finally {
      alice.send('quit');
      bob.kill();
    }
    expect(await alice.exited).toBe(0);
  });

  it('end of input (Ctrl-D) logs out too', async () => {
    const watcher = await Participant.login(server.url, server.keysDir, 'dave', PASSWORD);
    const stream = await watcher.events();
    const carol = menu('carol');
    await carol.waitFor(/\* connected$/);
    await stream.nextOf('presence', (d) => d.username === 'carol' && d.online);
    carol.end();
    expect(await carol.exited).toBe(0);
    await stream.nextOf('presence', (d) => d.username === 'carol' && !d.online);
    stream.close();
  });
});

describe('security in the client', () => {
  let alice: Participant;
  let aliceStream: EventStream;
  let chatId: string;
  let erin: CliProcess;

  beforeAll(async () => {
    alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    aliceStream = await alice.events();
    erin = menu('erin');
    await erin.waitFor(/\* connected$/);
    const created = await alice.api.call('createChat', { body: { invitees: ['erin'] } });
    chatId = created.body.chat.id;
    await alice.acceptEnvelope(created.body.keyEnvelope);
    await erin.waitFor(/invited you/);
    erin.send('join');
    await erin.waitFor(/^joined chat/);
  });
  afterAll(async () => {
    erin?.send('quit');
    await erin?.exited;
    aliceStream?.close();
  });

  it('shows a forged message as rejected, never as a message', async () => {
    const real = alice.compose(chatId, 1, 'the real one', 'ed25519');
    const forged = {
      ...alice.compose(chatId, 1, 'send me your password', 'ed25519'),
      signature: real.signature,
    };
    // a malicious server (or a bug) delivers something the sender never signed
    await server.app.fanout.publish({
      kind: 'event',
      type: 'message',
      to: ['erin'],
      data: JSON.stringify({
        chatId,
        seq: 99,
        sender: 'alice',
        receivedAt: new Date().toISOString(),
        message: forged,
      }),
    });
    await erin.waitFor(
      /^ERR .*REJECTED message #99 claiming to be from alice: the ed25519 signature does not verify/,
    );
    expect(erin.lines.some((l) => l.includes('send me your password'))).toBe(false);
  });

  it('survives a server restart mid-chat, resuming the stream', async () => {
    const first = await alice.send(chatId, 1, 'before restart', 'rsa-pss-sha256');
    expect(first.res.status).toBe(201);
    await erin.waitFor(/alice \(rsa\): before restart$/);
    aliceStream.close();
    server = await server.restart();
    await erin.waitFor(/\* connected$/);
    const after = await alice.send(chatId, 1, 'after restart', 'dsa-sha256');
    expect(after.res.status).toBe(201);
    await erin.waitFor(/alice \(dsa\): after restart$/);
    aliceStream = await alice.events();
    erin.send('after the restart, from erin');
    await erin.waitFor(/erin \(rsa\): after the restart, from erin$/);
    const e = await aliceStream.nextOf('message', (d) => d.sender === 'erin');
    expect(await alice.read(e.json)).toBe('after the restart, from erin');
  });

  it('refuses messages from a peer whose key changed since it was pinned, until trusted', async () => {
    const file = path.join(server.keysDir, 'users', 'erin', 'known_keys.json');
    const known = JSON.parse(await readFile(file, 'utf8'));
    expect(known.users.alice.ed25519).toMatch(/^[0-9a-f]{64}$/);
    // pretend erin pinned other keys for alice: her current ones now look changed
    known.users.alice.ed25519 = '0'.repeat(64);
    await writeFile(file, JSON.stringify(known));
    const cli = menu('erin');
    try {
      await cli.waitFor(/\* connected$/);
      cli.send(`switch ${chatId.slice(0, 8)}`);
      await cli.waitFor(/now in chat/);
      await alice.send(chatId, 1, 'can you read me?', 'ed25519');
      await cli.waitFor(/REJECTED .* alice's keys CHANGED/);
      cli.send('fingerprint alice');
      await cli.waitFor(/CHANGED since pinned!/);
      cli.send('trust alice');
      await cli.waitFor(/now trusting alice's keys [0-9a-f]{64}$/);
      await alice.send(chatId, 1, 'and now?', 'ed25519');
      await cli.waitFor(/alice \(ed25519\): and now\?$/);
    } finally {
      cli.send('quit');
      await cli.exited;
    }
  });
});

// Each of these starts the CLI process several times (ten, for the failures): on a loaded machine
// that takes longer than the default 30 s; nothing here waits on a timer.
describe('scriptable commands', { timeout: 120_000 }, () => {
  it('print JSON with --json and exit 0', async () => {
    const status = await runCli(
      ['--user', 'bob', '--password-stdin', '--json', 'status', 'carol'],
      env,
      PASSWORD,
    );
    expect(status.code).toBe(0);
    const parsed = JSON.parse(status.stdout);
    expect(parsed.username).toBe('carol');
    expect(typeof parsed.online).toBe('boolean');

    const created = await runCli(
      ['--user', 'bob', '--password-stdin', '--json', 'chat', 'nobody'],
      env,
      PASSWORD,
    );
    const chat = JSON.parse(created.stdout);
    expect(chat.unavailable).toEqual([{ username: 'nobody', reason: 'unknown' }]);

    for (const sig of ['rsa', 'dsa', 'ed25519']) {
      const sent = await runCli(
        [
          '--user',
          'bob',
          '--password-stdin',
          '--json',
          '--chat',
          chat.chat.id.slice(0, 8),
          '--sig',
          sig,
          'send',
          'note',
          'to',
          'self',
        ],
        env,
        PASSWORD,
      );
      expect(sent.code, sent.stderr).toBe(0);
      expect(JSON.parse(sent.stdout)).toMatchObject({ chatId: chat.chat.id, epoch: 1 });
    }
    const history = await runCli(
      ['--user', 'bob', '--password-stdin', '--json', '--chat', chat.chat.id, 'history'],
      env,
      PASSWORD,
    );
    const h = JSON.parse(history.stdout);
    expect(
      h.messages.map((m: { text: string; verified: boolean; signatureAlgorithm: string }) => [
        m.text,
        m.verified,
        m.signatureAlgorithm,
      ]),
    ).toEqual([
      ['note to self', true, 'rsa-pss-sha256'],
      ['note to self', true, 'dsa-sha256'],
      ['note to self', true, 'ed25519'],
    ]);
    const online = await runCli(['--user', 'bob', '--password-stdin', 'online'], env, PASSWORD);
    expect(online.stdout).toMatch(/^online: .*bob/);
  });

  it('fail with one clear line and a non-zero exit', async () => {
    const cases: [string[], string, RegExp][] = [
      [
        ['--user', 'bob', '--password-stdin', 'online'],
        'wrong password',
        /login failed: unknown user or wrong password/,
      ],
      [['--user', 'bob', '--password-stdin', 'frobnicate'], PASSWORD, /unknown command frobnicate/],
      [['--user', 'bob', '--password-stdin', 'status'], PASSWORD, /usage: status <user>/],
      [['--user', 'bob', '--password-stdin', 'status', 'ghost'], PASSWORD, /No user ghost/],
      [
        ['--user', 'bob', '--password-stdin', '--chat', 'ffffffff', 'send', 'x'],
        PASSWORD,
        /no chat ffffffff among yours/,
      ],
      [
        ['--user', 'bob', '--password-stdin', '--sig', 'md5', '--chat', 'x', 'send', 'x'],
        PASSWORD,
        /no chat x|unknown signature scheme/,
      ],
      [['--user', 'ghost', '--password-stdin', 'online'], PASSWORD, /no readable key store for ghost/],
      [
        ['--user', 'bob', '--password-stdin', '--server', 'http://127.0.0.1:9', 'online'],
        PASSWORD,
        /cannot reach the server/,
      ],
      [['--user', 'bob', '--password-stdin', '--bogus'], PASSWORD, /Unknown option '--bogus'/],
      [['online'], PASSWORD, /pass --user/],
    ];
    for (const [args, stdin, message] of cases) {
      const r = await runCli(args, env, stdin);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\bat .*\.ts:\d+/);
    }
  });

  it('decrypt shows the chat key a client unwraps, after checking the server signature', async () => {
    const carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
    const created = await carol.api.call('createChat', { body: { invitees: ['nobody'] } });
    const key = await carol.acceptEnvelope(created.body.keyEnvelope);
    const serverKey = path.join(server.dataDir, 'server.pub.pem');
    await writeFile(serverKey, (await carol.api.call('getServerKey')).body.publicKey);
    const out = await runCli(
      ['--user', 'carol', 'decrypt', '--server-key', serverKey],
      env,
      JSON.stringify(created.body),
    );
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('server signature: valid');
    expect(out.stdout).toContain(`chat key (AES-256, hex): ${key.toString('hex')}`);
    const tampered = { ...created.body.keyEnvelope, epoch: 2 };
    const bad = await runCli(
      ['--user', 'carol', 'decrypt', '--server-key', serverKey],
      env,
      JSON.stringify(tampered),
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/server signature on this envelope does not verify/);
  });
});

describe('the client session', () => {
  it('re-encrypts under the new key and sends once more after STALE_EPOCH', async () => {
    const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    const session = await Session.open({
      server: server.url,
      username: 'bob',
      password: PASSWORD,
      keysDir: server.keysDir,
    });
    try {
      const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
      const chatId = created.body.chat.id;
      await session.api.call('POST', `/chats/${chatId}/join`);
      expect((await session.send(chatId, 'at epoch 1')).epoch).toBe(1);
      // the key rotates while bob's session still holds epoch 1
      await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
      await alice.api.call('inviteToChat', { params: { chatId }, body: { invitees: ['carol'] } });
      const sent = await session.send(chatId, 'sent again at epoch 2', 'dsa-sha256');
      expect(sent.epoch).toBe(2);
      const history = await alice.api.call('listMessages', { params: { chatId } });
      expect(history.body.messages.map((m: { message: { epoch: number } }) => m.message.epoch)).toEqual([
        1, 2,
      ]);
    } finally {
      await session.close();
    }
  });
});
