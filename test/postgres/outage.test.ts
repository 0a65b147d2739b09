import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess } from '../../scripts/child.js';
import { Api, EventStream, Participant } from '../support/client.js';
import { PASSWORD, seedFoldersForProcesses } from '../support/helper.js';

// A server process on the suite's PostgreSQL and Redis, with one of them taken away and given
// back: Redis by running a redis-server of its own, PostgreSQL through a TCP proxy that the test
// cuts (the postgres project only).
const dirs = seedFoldersForProcesses();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** alice and bob in a chat, both holding its key, bob listening. */
async function conversation(url: string) {
  const alice = await Participant.login(url, dirs.keysDir, 'alice', PASSWORD);
  const bob = await Participant.login(url, dirs.keysDir, 'bob', PASSWORD);
  const bobStream = await bob.events();
  const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
  const chatId = created.body.chat.id as string;
  await alice.acceptEnvelope(created.body.keyEnvelope);
  await bob.acceptEnvelope((await bob.api.call('joinChat', { params: { chatId } })).body.keyEnvelope);
  return { alice, bob, bobStream, chatId, epoch: created.body.chat.epoch as number };
}

/** redis-server in the foreground, no persistence; resolves once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  return child;
}

/** A server process on the suite's PostgreSQL and the Redis at `port`. */
async function serverOnRedis(port: number, env: Record<string, string> = {}) {
  const server = await startServerProcess({
    ...dirs.env,
    REDIS_URL: `redis://127.0.0.1:${port}`,
    SECURECHAT_KEYS_DIR: dirs.keysDir,
    SECURECHAT_DEMO_USERS: 'false',
    BCRYPT_COST: '4',
    ...env,
  });
  children.push(server.child);
  return server;
}

describe('when Redis goes away and comes back', () => {
  it('messages are still stored and delivered; presence fails clearly, then recovers by itself', {
    timeout: 60_000,
  }, async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const server = await serverOnRedis(port, { PRESENCE_GRACE_MS: '3000' });

    const { alice, bob, bobStream, chatId, epoch } = await conversation(server.url);

    // whatever else lands on the channel is ignored, and delivery goes on
    const intruder = new Redis(`redis://127.0.0.1:${port}`);
    const channel = `${dirs.env.SECURECHAT_REDIS_PREFIX}bus`;
    for (const junk of ['not json', '{"kind":"event","type":"message","data":"{}","to":5}', 'null', '[]'])
      await intruder.publish(channel, junk);
    intruder.disconnect();
    expect((await alice.send(chatId, epoch, 'after the junk', 'rsa-pss-sha256')).res.status).toBe(201);
    const first = await bobStream.nextOf('message', (m) => m.chatId === chatId);
    expect(await bob.read(first.json as Parameters<Participant['read']>[0])).toBe('after the junk');

    redis.kill('SIGKILL');
    await new Promise((resolve) => redis.once('exit', resolve));

    // the store is the truth: the post is answered, and bob's stream gets it from the store
    const { res } = await alice.send(chatId, epoch, 'sent while Redis is down', 'dsa-sha256');
    expect(res.status).toBe(201);
    const event = await bob.read(
      (await bobStream.nextOf('message', (m) => m.chatId === chatId)).json as Parameters<
        Participant['read']
      >[0],
    );
    expect(event).toBe('sent while Redis is down');
    // presence lives in Redis: asking for it is a 503 to retry, and the server stays up
    const status = await alice.api.call('getUserStatus', { params: { username: 'bob' } });
    expect(status.status).toBe(503);
    expect(status.body.code).toBe('UNAVAILABLE');
    expect(status.headers['retry-after']).toBe('5');
    // the instance is not ready without its bus; /health asks the database only
    expect((await alice.api.call('getReadiness')).status).toBe(503);
    expect((await alice.api.call('getHealth')).status).toBe(200);
    expect((await alice.api.call('getLiveness')).status).toBe(200);

    // Redis is back (empty): the instance reconnects and renews its sessions' leases
    redis = await startRedis(port);
    for (let online = false; !online; ) {
      const again = await alice.api.call('getUserStatus', { params: { username: 'bob' } });
      online = again.status === 200 && again.body.online === true;
      if (!online) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { res: after } = await alice.send(chatId, epoch, 'and after it is back', 'rsa-pss-sha256');
    expect(after.status).toBe(201);
    const next = await bobStream.nextOf('message', (m) => m.chatId === chatId);
    expect(await bob.read(next.json as Parameters<Participant['read']>[0])).toBe('and after it is back');
    expect((await alice.api.call('getHealth')).status).toBe(200);
    // ready again once both of its Redis connections are back
    while ((await alice.api.call('getReadiness')).status !== 200)
      await new Promise((r) => setTimeout(r, 100));
    bobStream.close();
  });
});

describe('a logout while Redis is down', () => {
  it("ends the session's streams on this instance at once", { timeout: 60_000 }, async () => {
    const port = await freePort();
    const redis = await startRedis(port);
    const server = await serverOnRedis(port);
    const { alice, bob, bobStream, chatId, epoch } = await conversation(server.url);
    redis.kill('SIGKILL');
    await new Promise((resolve) => redis.once('exit', resolve));

    expect((await bob.api.call('logout')).status).toBe(204);
    // a message after the logout reaches open streams (from the store): bob's must have ended first
    const after = bobStream
      .nextOf('message', (m) => m.chatId === chatId)
      .then(
        () => 'still reading',
        () => 'ended',
      );
    expect((await alice.send(chatId, epoch, 'after the logout', 'ed25519')).res.status).toBe(201);
    expect(await Promise.race([bobStream.done.then(() => 'ended'), after])).toBe('ended');
    expect((await bob.api.call('listChats')).body.code).toBe('TOKEN_REVOKED');
  });

  it('ends its streams on another instance once Redis is back', { timeout: 60_000 }, async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const a = await serverOnRedis(port);
    const b = await serverOnRedis(port);
    const bob = await Participant.login(a.url, dirs.keysDir, 'bob', PASSWORD);
    const onB = await EventStream.open(b.url, String(bob.api.token));
    redis.kill('SIGKILL');
    await new Promise((resolve) => redis.once('exit', resolve));

    expect((await bob.api.call('logout')).status).toBe(204); // on A, which cannot tell B now
    const onBApi = new Api(b.url);
    onBApi.token = bob.api.token;
    expect((await onBApi.call('listChats')).body.code).toBe('TOKEN_REVOKED');
    redis = await startRedis(port);
    await onB.done; // B ends it once Redis is back
  });
});

/** A TCP proxy to `target` that can be cut (every connection dropped, new ones refused) and restored. */
async function cuttableProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ]) {
      sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  const port = await freePort();
  const listen = () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen();
  return {
    port,
    async cut() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
    },
    restore: listen,
    close: () => server.close(),
  };
}

describe('when PostgreSQL goes away and comes back', () => {
  it('requests get 503 UNAVAILABLE and change nothing; the server carries on once it is back', {
    timeout: 60_000,
  }, async () => {
    const database = new URL(dirs.env.DATABASE_URL);
    const proxy = await cuttableProxy(database);
    const viaProxy = new URL(database);
    viaProxy.port = String(proxy.port);
    const server = await startServerProcess({
      ...dirs.env,
      DATABASE_URL: viaProxy.toString(),
      SECURECHAT_KEYS_DIR: dirs.keysDir,
      SECURECHAT_DEMO_USERS: 'false',
      BCRYPT_COST: '4',
    });
    children.push(server.child);
    try {
      const { alice, bob, bobStream, chatId, epoch } = await conversation(server.url);

      await proxy.cut();
      const { res: refused } = await alice.send(chatId, epoch, 'never stored', 'rsa-pss-sha256');
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe('UNAVAILABLE');
      expect(refused.headers['retry-after']).toBe('5');
      expect((await alice.api.call('getHealth')).status).toBe(503);
      expect((await alice.api.call('getReadiness')).status).toBe(503);
      const login = await alice.api.call('login', { body: { username: 'alice', password: PASSWORD } });
      expect(login.status).toBe(503);
      expect(server.child.exitCode).toBeNull();

      await proxy.restore();
      // the pool reconnects on the next request: no restart, no waiting
      expect((await alice.api.call('getHealth')).status).toBe(200);
      expect((await alice.api.call('getReadiness')).status).toBe(200);
      const { res } = await alice.send(chatId, epoch, 'stored once it was back', 'dsa-sha256');
      expect(res.status).toBe(201);
      const event = await bobStream.nextOf('message', (m) => m.chatId === chatId);
      expect(await bob.read(event.json as Parameters<Participant['read']>[0])).toBe(
        'stored once it was back',
      );
      const history = await alice.api.call('listMessages', { params: { chatId } });
      expect(history.body.messages.map((m: { seq: number }) => m.seq)).toEqual([1]);
      bobStream.close();
    } finally {
      proxy.close();
    }
  });
});
