import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess } from '../../scripts/child.js';
import type { SignatureAlgorithm } from '../../src/crypto/keys.js';
import { EventStream, Participant, type SseEvent } from '../support/client.js';
import { PASSWORD, seedFoldersForProcesses, tempDir } from '../support/helper.js';

// Two real server processes on one PostgreSQL database and one Redis (the postgres project only).
const dirs = seedFoldersForProcesses();
const GRACE_MS = 1500;
const env = () => ({
  ...dirs.env,
  SECURECHAT_KEYS_DIR: dirs.keysDir,
  SECURECHAT_DEMO_USERS: 'false',
  BCRYPT_COST: '4',
  PRESENCE_GRACE_MS: String(GRACE_MS),
  SECURECHAT_POST_LIMIT: '100000',
});

const children: ChildProcess[] = [];
const folders: string[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function instance() {
  const server = await startServerProcess(env());
  children.push(server.child);
  return server;
}

const exited = (child: ChildProcess) => new Promise((resolve) => child.once('exit', resolve));

/** Verifies and decrypts a `message` event the way a recipient does. */
async function read(reader: Participant, event: SseEvent) {
  return reader.read(event.json as Parameters<Participant['read']>[0]);
}

const messagesIn = (stream: EventStream, chatId: string) =>
  stream.events.filter((e) => e.event === 'message' && e.json?.chatId === chatId);

describe('two instances on one PostgreSQL and one Redis', () => {
  it('serve one conversation across them, and lose nothing when one is killed', {
    timeout: 120_000,
  }, async () => {
    const a = await instance();
    const b = await instance();

    // alice is on A, bob and carol on B
    const alice = await Participant.login(a.url, dirs.keysDir, 'alice', PASSWORD);
    const aliceStream = await alice.events();
    const bob = await Participant.login(b.url, dirs.keysDir, 'bob', PASSWORD);
    let bobStream = await bob.events();
    const carol = await Participant.login(b.url, dirs.keysDir, 'carol', PASSWORD);
    const carolStream = await carol.events();

    // presence is shared: A knows who is online on B, and says so as it happens
    await aliceStream.nextOf('presence', (p) => p.username === 'bob' && p.online === true);
    await aliceStream.nextOf('presence', (p) => p.username === 'carol' && p.online === true);
    expect((await alice.api.call('getUserStatus', { params: { username: 'bob' } })).body.online).toBe(true);
    expect((await bob.api.call('listOnlineUsers')).body.users).toEqual(['alice', 'bob', 'carol']);

    // a chat started on A with a member on B: the key reaches B's stream, the join reaches A's
    const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
    expect(created.status).toBe(201);
    expect(created.body.unavailable).toEqual([]);
    const chatId = created.body.chat.id as string;
    await alice.acceptEnvelope(created.body.keyEnvelope);
    await bobStream.nextOf('chat.invited', (e) => e.chat.id === chatId);
    const joined = await bob.api.call('joinChat', { params: { chatId } });
    await bob.acceptEnvelope(joined.body.keyEnvelope);
    await aliceStream.nextOf('member.joined', (e) => e.chatId === chatId && e.username === 'bob');
    const epoch = created.body.chat.epoch as number;

    // both ways, both signature schemes, each message verified and decrypted by the other side
    const exchange: [Participant, Participant, EventStream, SignatureAlgorithm][] = [
      [alice, bob, bobStream, 'rsa-pss-sha256'],
      [bob, alice, aliceStream, 'dsa-sha256'],
      [alice, bob, bobStream, 'dsa-sha256'],
      [bob, alice, aliceStream, 'rsa-pss-sha256'],
    ];
    for (const [from, to, stream, alg] of exchange) {
      const text = `${from.username} to ${to.username} signed with ${alg}`;
      const { res } = await from.send(chatId, epoch, text, alg);
      expect(res.status).toBe(201);
      const event = await stream.nextOf('message', (m) => m.chatId === chatId && m.sender === from.username);
      expect(event.json?.message.signatureAlgorithm).toBe(alg);
      expect(await read(to, event)).toBe(text);
    }

    // both instances post to the chat at once: seq and event ids stay gapless, in order everywhere
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? alice : bob).send(chatId, epoch, `burst ${i}`, i % 4 < 2 ? 'rsa-pss-sha256' : 'dsa-sha256'),
      ),
    );
    expect(burst.every(({ res }) => res.status === 201)).toBe(true);
    for (const stream of [aliceStream, bobStream]) {
      await stream.next(() => messagesIn(stream, chatId).length >= 44, 20_000);
      const got = messagesIn(stream, chatId);
      expect(got.map((e) => e.json?.seq)).toEqual(Array.from({ length: 44 }, (_, i) => i + 1));
      const ids = got.map((e) => Number(e.id));
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
    }

    // B dies with bob's and carol's streams on it
    const lastSeen = messagesIn(bobStream, chatId).at(-1)?.id as string;
    const bExit = exited(b.child);
    b.child.kill('SIGKILL');
    await bExit;
    await bobStream.done;

    // alice goes on posting on A while bob is away
    const whileAway: string[] = [];
    for (const alg of ['rsa-pss-sha256', 'dsa-sha256'] as const) {
      for (let i = 0; i < 3; i++) {
        const text = `while B is down ${whileAway.length} (${alg})`;
        expect((await alice.send(chatId, epoch, text, alg)).res.status).toBe(201);
        whileAway.push(text);
      }
    }

    // bob resumes on A from the last event he had: everything after it, once, in order
    bobStream = await EventStream.open(a.url, bob.api.token as string, lastSeen);
    for (const text of whileAway) {
      const event = await bobStream.nextOf('message', (m) => m.chatId === chatId);
      expect(await read(bob, event)).toBe(text);
    }
    const resumed = messagesIn(bobStream, chatId).map((e) => e.json?.seq);
    expect(resumed).toEqual([45, 46, 47, 48, 49, 50]);
    expect(Number(bobStream.events.find((e) => e.event === 'message')?.id)).toBeGreaterThan(Number(lastSeen));

    // bob (same token) is back on A; carol never came back: her lease runs out and A says so
    await aliceStream.nextOf('presence', (p) => p.username === 'carol' && p.online === false, GRACE_MS * 4);
    expect((await alice.api.call('getUserStatus', { params: { username: 'carol' } })).body.online).toBe(
      false,
    );
    expect((await alice.api.call('getUserStatus', { params: { username: 'bob' } })).body.online).toBe(true);
    expect(carolStream.ended).toBe(true);

    // and the full history, read on A, is every message once with seq 1..50
    const history = await alice.api.call('listMessages', { params: { chatId }, query: { limit: 1000 } });
    expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    aliceStream.close();
    bobStream.close();
  });

  it('refuse to start an instance whose JWT secret or signing key differs from the others', async () => {
    await instance();
    await expect(
      startServerProcess({ ...env(), SECURECHAT_JWT_SECRET: 'another-secret-'.repeat(3) }),
    ).rejects.toThrow(/different JWT secret from the instances already using this database/);
    // its own keys folder: a new signing key, which clients that pinned the first would refuse
    const keysDir = await tempDir();
    folders.push(keysDir);
    await expect(startServerProcess({ ...env(), SECURECHAT_KEYS_DIR: keysDir })).rejects.toThrow(
      /server signing key .* is not the one the instances already using this database sign with/,
    );
  });

  it('count failed logins across instances: guesses spread over both meet one limit', {
    timeout: 120_000,
  }, async () => {
    const [a, b] = [await instance(), await instance()];
    const guess = (url: string) =>
      new Participant(url, 'dave').api.call('login', {
        body: { username: 'dave', password: 'not the password' },
      });
    // SECURECHAT_LOGIN_FAILURES_PER_USER_IP is 5 a minute: five wrong guesses, alternating
    for (let i = 0; i < 5; i++) expect((await guess(i % 2 ? b.url : a.url)).status).toBe(401);
    for (const url of [a.url, b.url]) {
      const refused = await guess(url);
      expect(refused.status).toBe(429);
      expect(refused.body.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('a logout on one instance ends the session on every instance, offline at once', async () => {
    const [a, b] = [await instance(), await instance()];
    const watcher = await Participant.login(a.url, dirs.keysDir, 'alice', PASSWORD);
    const watch = await watcher.events();
    const erin = await Participant.login(a.url, dirs.keysDir, 'erin', PASSWORD);
    // erin's stream is on B; she logs out through A
    const stream = await EventStream.open(b.url, erin.api.token as string);
    await watch.nextOf('presence', (p) => p.username === 'erin' && p.online === true);
    expect((await erin.api.call('logout')).status).toBe(204);
    await stream.done; // B closed it
    // offline now, not after the grace period (1.5 s here; the wait below gives up sooner)
    await watch.nextOf('presence', (p) => p.username === 'erin' && p.online === false, GRACE_MS / 2);
    expect((await watcher.api.call('getUserStatus', { params: { username: 'erin' } })).body.online).toBe(
      false,
    );
    watch.close();
  });
});
