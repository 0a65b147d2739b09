import type { ChildProcess } from 'node:child_process';
import { Agent, request, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess } from '../../scripts/child.js';
import { EventStream, Participant } from '../support/client.js';
import { PASSWORD, seedFoldersForProcesses } from '../support/helper.js';
import { freePort, type Nginx, startNginx } from '../support/nginx.js';

// deploy/nginx/securechat.conf as shipped (ports, addresses and certificate rendered) in front of
// two server processes on one PostgreSQL and one Redis.
const dirs = seedFoldersForProcesses();
const env = (extra: Record<string, string> = {}) => ({
  ...dirs.env,
  SECURECHAT_KEYS_DIR: dirs.keysDir,
  SECURECHAT_DEMO_USERS: 'false',
  BCRYPT_COST: '4',
  SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '2',
  ...extra,
});

let nginx: Nginx;
let ports: [number, number];
const children: ChildProcess[] = [];
const exited = (child: ChildProcess) =>
  child.exitCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', resolve));

/** Both instances (again) on their ports, with `extra` settings. */
async function instances(extra: Record<string, string>) {
  for (const child of children.splice(0)) {
    child.kill('SIGTERM');
    await exited(child);
  }
  for (const port of ports) {
    const server = await startServerProcess({ ...env(extra), PORT: String(port) });
    children.push(server.child);
  }
}

beforeAll(async () => {
  ports = [await freePort(), await freePort()];
  nginx = await startNginx([`127.0.0.1:${ports[0]}`, `127.0.0.1:${ports[1]}`]);
  // the test's own calls trust the certificate nginx serves
  setGlobalDispatcher(new Agent({ connect: { ca: nginx.ca } }));
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await nginx?.stop();
});

/** One wrong login for `username` through nginx, from the local address `from`, with headers. */
async function wrongLogin(username: string, from: string, headers: Record<string, string> = {}) {
  const dispatcher = new Agent({ localAddress: from, connect: { ca: nginx.ca } });
  try {
    const res = await request(`${nginx.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ username, password: 'a wrong guess' }),
      dispatcher,
    });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await dispatcher.close();
  }
}

describe('deploy/nginx/securechat.conf in front of two instances', () => {
  it('carries a login and a conversation, and passes each event on unbuffered', {
    timeout: 90_000,
  }, async () => {
    await instances({ SECURECHAT_TRUST_PROXY: '127.0.0.1' });
    // plain HTTP is sent to TLS
    const plain = await request(`${nginx.plainUrl}/health`, { dispatcher: new Agent() });
    expect(plain.statusCode).toBe(301);
    await plain.body.dump();

    const alice = await Participant.login(nginx.url, dirs.keysDir, 'alice', PASSWORD);
    const bob = await Participant.login(nginx.url, dirs.keysDir, 'bob', PASSWORD);
    const bobStream = await EventStream.open(nginx.url, bob.api.token as string);
    expect(bobStream.headers['content-type']).toMatch(/^text\/event-stream/);
    const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
    expect(created.status).toBe(201);
    const chatId = created.body.chat.id as string;
    await alice.acceptEnvelope(created.body.keyEnvelope);
    await bobStream.nextOf('chat.invited', (e) => e.chat.id === chatId);
    const joined = await bob.api.call('joinChat', { params: { chatId } });
    await bob.acceptEnvelope(joined.body.keyEnvelope);
    const epoch = created.body.chat.epoch as number;

    for (const [i, alg] of (['rsa-pss-sha256', 'dsa-sha256', 'ed25519'] as const).entries()) {
      const { res } = await alice.send(chatId, epoch, `through nginx ${i}`, alg);
      const answered = performance.now();
      expect(res.status).toBe(201);
      const event = await bobStream.nextOf('message', (m) => m.chatId === chatId && m.seq === res.body.seq);
      const ms = performance.now() - answered;
      expect(await bob.read(event.json as Parameters<Participant['read']>[0])).toBe(`through nginx ${i}`);
      // Buffered, one small event would wait for nginx's buffer to fill or the stream to end; the
      // heartbeat is 15 s. The bound is generous (shared CPUs); the figure is printed.
      expect(ms).toBeLessThan(1000);
      console.log(`nginx: event ${i} reached the stream ${ms.toFixed(0)} ms after its 201`);
    }
    const history = await bob.api.call('listMessages', { params: { chatId } });
    expect(history.body.messages.length).toBe(3);
    bobStream.close();
  });

  it('with SECURECHAT_TRUST_PROXY at nginx, limits per address count the client, not nginx nor what it claims', {
    timeout: 90_000,
  }, async () => {
    if (children.length === 0) await instances({ SECURECHAT_TRUST_PROXY: '127.0.0.1' });
    // two failures from one client address use up its budget for carol (2 a minute) ...
    expect(await wrongLogin('carol', '127.0.0.3')).toBe(401);
    expect(await wrongLogin('carol', '127.0.0.3')).toBe(401);
    expect(await wrongLogin('carol', '127.0.0.3')).toBe(429);
    // ... and an X-Forwarded-For of its own does not give it a fresh one (nginx appends the
    // address it saw; the server believes only the entry its trusted proxy added)
    expect(await wrongLogin('carol', '127.0.0.3', { 'x-forwarded-for': '192.0.2.9' })).toBe(429);
    // another client behind the same nginx has its own
    expect(await wrongLogin('carol', '127.0.0.4')).toBe(401);
  });

  it('without SECURECHAT_TRUST_PROXY, limits per address see only nginx', { timeout: 90_000 }, async () => {
    await instances({});
    expect(await wrongLogin('dave', '127.0.0.3')).toBe(401);
    expect(await wrongLogin('dave', '127.0.0.3')).toBe(401);
    // every client is nginx's address, and a forwarded address is not believed
    expect(await wrongLogin('dave', '127.0.0.4')).toBe(429);
    expect(await wrongLogin('dave', '127.0.0.5', { 'x-forwarded-for': '192.0.2.10' })).toBe(429);
  });
});
