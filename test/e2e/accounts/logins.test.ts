import path from 'node:path';
import bcrypt from 'bcrypt';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { readPublicKeys } from '../../../src/crypto/keystore.js';
import { loginLimits } from '../../../src/plugins/accounts.js';
import { createAccounts } from '../../../src/services/accounts.js';
import { AbandonedError, addressKey, WorkQueue } from '../../../src/services/limiter.js';
import { Api } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer, until, withServer } from '../../support/helper.js';

const login = (api: Api, username: string, password: string, from?: string) =>
  api.call('login', {
    body: { username, password },
    ...(from && { headers: { 'x-forwarded-for': from } }),
  });

describe('failed-login limits (issue 10, finding 3)', () => {
  it('count each attempt before its password is checked: of 30 parallel guesses, 5 are evaluated', async () => {
    // the per-address cap on hashes at once is lifted so that only the attempt count decides
    await withServer(
      { SECURECHAT_LOGIN_HASHES_PER_IP: '100', SECURECHAT_LOGIN_QUEUE: '100' },
      async (server) => {
        const api = new Api(server.url);
        const answers = await Promise.all(
          Array.from({ length: 30 }, () => login(api, 'alice', 'a wrong guess')),
        );
        const evaluated = answers.filter((a) => a.status === 401);
        const limited = answers.filter((a) => a.status === 429);
        expect(evaluated).toHaveLength(5);
        expect(limited).toHaveLength(25);
        for (const a of limited) {
          expect(a.body.code).toBe('RATE_LIMITED');
          expect(Number(a.headers['retry-after'])).toBeGreaterThan(0);
        }
        // the right password from this address waits too; a success elsewhere resets nothing here
        expect((await login(api, 'alice', PASSWORD)).status).toBe(429);
      },
    );
  });

  it('a success resets the count for its address', async () => {
    await withServer({ SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '3' }, async (server) => {
      const api = new Api(server.url);
      for (let i = 0; i < 2; i++) expect((await login(api, 'bob', 'a wrong guess')).status).toBe(401);
      expect((await login(api, 'bob', PASSWORD)).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await login(api, 'bob', 'a wrong guess')).status).toBe(401);
      expect((await login(api, 'bob', 'a wrong guess')).status).toBe(429);
    });
  });

  it('guessing from many addresses cannot keep the owner out: an address they logged in from still gets in', async () => {
    const env = { SECURECHAT_LOGIN_FAILURES_PER_USER: '3', SECURECHAT_TRUST_PROXY: 'loopback' };
    await withServer(env, async (server) => {
      const api = new Api(server.url);
      expect((await login(api, 'carol', PASSWORD, '192.0.2.7')).status).toBe(200);
      for (const from of ['10.0.0.1', '10.0.0.2', '10.0.0.3'])
        expect((await login(api, 'carol', 'a wrong guess', from)).status).toBe(401);
      // the username is now over its limit: an address that guessed waits for the window's end
      const again = await login(api, 'carol', 'a wrong guess', '10.0.0.1');
      expect(again.status).toBe(429);
      expect(Number(again.headers['retry-after'])).toBeGreaterThan(60);
      expect(Number(again.headers['retry-after'])).toBeLessThanOrEqual(300);
      // so does a new address, even with the right password
      expect((await login(api, 'carol', PASSWORD, '10.0.0.4')).status).toBe(429);
      // the owner, from an address they logged in from before, logs in, and again
      expect((await login(api, 'carol', PASSWORD, '192.0.2.7')).status).toBe(200);
      expect((await login(api, 'carol', PASSWORD, '192.0.2.7')).status).toBe(200);
    });
  });
});

describe('per-address limits behind a proxy, IPv6 per /64 (issue 10, finding 13)', () => {
  it('groups IPv6 addresses by /64 and keeps IPv4 (mapped or not) as it is', () => {
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:DB8:0001:0002:ffff::')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
  });

  it('counts failed logins and login attempts per /64, through a trusted proxy only', async () => {
    const env = {
      SECURECHAT_TRUST_PROXY: '127.0.0.1',
      SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '2',
      SECURECHAT_LOGIN_LIMIT: '5',
    };
    await withServer(env, async (server) => {
      const api = new Api(server.url);
      expect((await login(api, 'dave', 'a wrong guess', '2001:db8:7:7::1')).status).toBe(401);
      expect((await login(api, 'dave', 'a wrong guess', '2001:db8:7:7::2')).status).toBe(401);
      // another address of the same /64 meets the same count; another /64 does not
      expect((await login(api, 'dave', PASSWORD, '2001:db8:7:7:ffff::3')).status).toBe(429);
      expect((await login(api, 'dave', PASSWORD, '2001:db8:7:8::1')).status).toBe(200);
      // attempts per address (SECURECHAT_LOGIN_LIMIT) are counted per /64 too: 3 above, 2 more pass
      expect((await login(api, 'erin', PASSWORD, '2001:db8:7:7::a')).status).toBe(200);
      expect((await login(api, 'erin', PASSWORD, '2001:db8:7:7::b')).status).toBe(200);
      expect((await login(api, 'erin', PASSWORD, '2001:db8:7:7::c')).status).toBe(429);
      expect((await login(api, 'erin', PASSWORD, '2001:db8:7:9::c')).status).toBe(200);
    });
    // without SECURECHAT_TRUST_PROXY the header is ignored: every guess is the socket's address
    await withServer({ SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '2' }, async (server) => {
      const api = new Api(server.url);
      expect((await login(api, 'dave', 'a wrong guess', '192.0.2.1')).status).toBe(401);
      expect((await login(api, 'dave', 'a wrong guess', '192.0.2.2')).status).toBe(401);
      expect((await login(api, 'dave', PASSWORD, '192.0.2.3')).status).toBe(429);
    });
  });
});

/** A bcrypt whose comparisons wait until released, and are counted. */
function heldHasher() {
  const compared: string[] = [];
  const held: (() => void)[] = [];
  return {
    compared,
    release: () => {
      for (const go of held.splice(0)) go();
    },
    hasher: {
      hash: bcrypt.hash,
      getRounds: bcrypt.getRounds,
      compare: async (password: string, hash: string) => {
        compared.push(password);
        await new Promise<void>((go) => held.push(go));
        return bcrypt.compare(password, hash);
      },
    } as unknown as typeof bcrypt,
    /** Resolves once `n` comparisons have started. */
    started: (n: number) => until(() => compared.length >= n),
  };
}

describe('the bcrypt queue (issue 15, item 5)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  const accounts = (hasher: typeof bcrypt, more = {}) =>
    createAccounts({
      store: server.app.store,
      bcryptCost: 4,
      tokenTtlSeconds: 60,
      signToken: () => 'token',
      ...loginLimits(loadConfig({})),
      hasher,
      hashSlots: 1,
      hashQueue: 2,
      hashesPerAddress: 2,
      ...more,
    });

  it('is bounded: when it is full a login gets 503 with Retry-After, and is not counted as a failure', async () => {
    const h = heldHasher();
    const a = accounts(h.hasher, { failuresPerUserAndAddress: 1 });
    const running = a.login('alice', PASSWORD, '192.0.2.1');
    await h.started(1);
    const waiting = [
      a.login('nobody1', 'guess', '192.0.2.2').catch((e) => e),
      a.login('nobody2', 'guess', '192.0.2.3').catch((e) => e),
    ];
    await until(() => a.hashing().waiting === 2);
    const full = await a.login('bob', PASSWORD, '192.0.2.4').catch((e) => e);
    expect(full.statusCode).toBe(503);
    expect(full.code).toBe('UNAVAILABLE');
    expect(full.retryAfter).toBeGreaterThan(0);
    h.release();
    await h.started(2);
    h.release();
    await h.started(3);
    h.release();
    expect((await running).username).toBe('alice');
    for (const w of waiting) expect(await w).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    // bob's refused attempt was given back: with one failure allowed per address, he still gets in
    const bob = a.login('bob', PASSWORD, '192.0.2.4');
    await h.started(4);
    h.release();
    expect((await bob).username).toBe('bob');
  });

  it('drops a check whose client has gone before its turn: it is never hashed', async () => {
    const h = heldHasher();
    const a = accounts(h.hasher, { hashQueue: 30 });
    const running = a.login('alice', PASSWORD, '192.0.2.1');
    await h.started(1);
    const gone = Array.from({ length: 28 }, (_, i) => {
      const client = new AbortController();
      const attempt = a.login(`madeup${i}`, 'guess', `198.51.100.${i}`, client.signal);
      return { client, attempt };
    });
    await until(() => a.hashing().waiting === 28);
    for (const { client } of gone) client.abort();
    expect(a.hashing()).toEqual({ active: 1, waiting: 0 });
    for (const { attempt } of gone) await expect(attempt).rejects.toBeInstanceOf(AbandonedError);
    const next = a.login('bob', PASSWORD, '192.0.2.9');
    h.release();
    expect((await running).username).toBe('alice');
    await h.started(2);
    h.release();
    expect((await next).username).toBe('bob');
    expect(h.compared).toEqual([PASSWORD, PASSWORD]);
  });

  it('lets one address have at most SECURECHAT_LOGIN_HASHES_PER_IP checks at once (429)', async () => {
    const h = heldHasher();
    const a = accounts(h.hasher, { hashQueue: 30 });
    const first = [a.login('alice', PASSWORD, '2001:db8::1'), a.login('bob', PASSWORD, '2001:db8::2')];
    // the same /64: both count for one address
    await until(() => a.hashing().active + a.hashing().waiting === 2);
    const third = await a.login('carol', PASSWORD, '2001:db8::3').catch((e) => e);
    expect(third.statusCode).toBe(429);
    expect(third.retryAfter).toBe(1);
    h.release();
    await h.started(2);
    h.release();
    for (const f of first) await f;
    expect(h.compared).toHaveLength(2);
  });

  it('a WorkQueue hands a freed slot to the next in line, never to a newcomer', async () => {
    const queue = new WorkQueue(1, 10);
    const order: string[] = [];
    let free!: () => void;
    const first = queue.run(() => new Promise<void>((r) => (free = r)).then(() => order.push('first')));
    const second = queue.run(async () => order.push('second'));
    free();
    await new Promise((r) => setImmediate(r));
    const third = queue.run(async () => order.push('third'));
    await Promise.all([first, second, third]);
    expect(order).toEqual(['first', 'second', 'third']);
    expect(queue.size).toEqual({ active: 0, waiting: 0 });
  });
});

describe('logins whose clients hang up, over HTTP (issue 15, item 5)', () => {
  it('leave the queue when the connection closes: only the logins still wanted are hashed', async () => {
    await withServer(
      { SECURECHAT_LOGIN_HASHES_PER_IP: '100', SECURECHAT_LOGIN_LIMIT: '100' },
      async (server) => {
        const { accounts } = server.app;
        const held: (() => void)[] = [];
        let compared = 0;
        const compare = bcrypt.compare as (data: string, hash: string) => Promise<boolean>;
        const spy = vi.spyOn(bcrypt, 'compare').mockImplementation((async (data: string, hash: string) => {
          compared += 1;
          await new Promise<void>((go) => held.push(go));
          return compare(data, hash);
        }) as never);
        try {
          const post = (username: string, signal?: AbortSignal) =>
            request(`${server.url}/auth/login`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ username, password: PASSWORD }),
              signal,
            });
          const inQueue = () => accounts.hashing().active + accounts.hashing().waiting;
          const wanted = ['alice', 'bob', 'carol', 'dave'].map((u) => post(u));
          await until(() => inQueue() === 4);
          const hangUp = new AbortController();
          const guesses = Array.from({ length: 10 }, (_, i) =>
            post(`madeup${i}`, hangUp.signal).catch((e) => e),
          );
          await until(() => inQueue() === 14);
          const before = compared;
          hangUp.abort();
          for (const g of await Promise.all(guesses)) expect(g).toBeInstanceOf(Error);
          await until(() => inQueue() === 4);
          while (held.length > 0 || inQueue() > 0) {
            for (const go of held.splice(0)) go();
            await new Promise((r) => setImmediate(r));
          }
          for (const res of await Promise.all(wanted)) {
            expect(res.statusCode).toBe(200);
            await res.body.dump();
          }
          expect(before).toBeLessThanOrEqual(4);
          expect(compared).toBe(4);
        } finally {
          spy.mockRestore();
        }
      },
    );
  });
});

describe('the dummy hash for unknown users (issue 10, finding 14)', () => {
  it('has the configured cost, and users hashed at another cost are re-hashed at their next login', async () => {
    await withServer({}, async (server) => {
      const store = server.app.store;
      const rounds: number[] = [];
      const hasher = {
        hash: bcrypt.hash,
        getRounds: bcrypt.getRounds,
        compare: (password: string, hash: string) => {
          rounds.push(bcrypt.getRounds(hash));
          return bcrypt.compare(password, hash);
        },
      } as unknown as typeof bcrypt;
      const make = (bcryptCost: number) =>
        createAccounts({
          store,
          bcryptCost,
          tokenTtlSeconds: 60,
          signToken: () => 't',
          ...loginLimits(loadConfig({})),
          hasher,
        });
      const keys = await readPublicKeys(path.join(inject('fixtureKeys'), 'users', 'alice'));
      await make(4).register('olduser', PASSWORD, keys);
      expect(bcrypt.getRounds((await store.getUser('olduser'))?.passwordHash ?? '')).toBe(4);
      // BCRYPT_COST went up to 5
      const now = make(5);
      await expect(now.login('nobody', PASSWORD, '192.0.2.1')).rejects.toMatchObject({
        code: 'INVALID_CREDENTIALS',
      });
      expect(rounds).toEqual([5]);
      // a failure on the old, cheaper hash also pays a comparison at the configured cost
      await expect(now.login('olduser', 'a wrong guess', '192.0.2.1')).rejects.toMatchObject({
        code: 'INVALID_CREDENTIALS',
      });
      expect(rounds).toEqual([5, 4, 5]);
      expect((await now.login('olduser', PASSWORD, '192.0.2.1')).username).toBe('olduser');
      expect(bcrypt.getRounds((await store.getUser('olduser'))?.passwordHash ?? '')).toBe(5);
      await expect(now.login('olduser', 'a wrong guess', '192.0.2.1')).rejects.toMatchObject({
        code: 'INVALID_CREDENTIALS',
      });
      expect(rounds).toEqual([5, 4, 5, 4, 5]);
      expect((await now.login('olduser', PASSWORD, '192.0.2.1')).username).toBe('olduser');
    });
  });
});
