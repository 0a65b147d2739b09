import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { describe, expect, inject, it, vi } from 'vitest';
import { sealEnvelope, verifyEnvelope } from '../../src/crypto/envelope.js';
import { readKeyStore } from '../../src/crypto/keystore.js';
import { createEnvelopeIssuer, signingSlots } from '../../src/services/envelopes.js';
import { createRotationSweep } from '../../src/services/rotation-sweep.js';
import { Api } from '../support/client.js';
import { PASSWORD, withServer } from '../support/helper.js';

const due = (...ids: string[]) => ids.map((chatId) => ({ chatId, epoch: 1 }));

describe('the age sweep (issue 15, item 8)', () => {
  it('handles errors per chat: one failing chat neither aborts the sweep nor comes first next time', async () => {
    let now = 1_000_000;
    const calls: string[] = [];
    const errors: (string | undefined)[] = [];
    const sweep = createRotationSweep({
      store: { chatsDueForRotation: async () => due('a', 'b', 'c') },
      rotate: async (chatId) => {
        calls.push(chatId);
        if (chatId === 'a') throw new Error('envelope for a member without keys');
      },
      rotateSeconds: 60,
      onError: (_error, chatId) => errors.push(chatId),
      retryMs: 1000,
      now: () => now,
    });
    expect(await sweep()).toEqual({ rotated: ['b', 'c'], failed: ['a'] });
    expect(errors).toEqual(['a']);
    // the next sweep leaves the failing chat out for a while…
    calls.length = 0;
    expect(await sweep()).toEqual({ rotated: ['b', 'c'], failed: [] });
    expect(calls).toEqual(['b', 'c']);
    // …then tries it again, and leaves it out twice as long after a second failure
    now += 1000;
    expect((await sweep()).failed).toEqual(['a']);
    now += 1000;
    expect((await sweep()).failed).toEqual([]);
    now += 1000;
    expect((await sweep()).failed).toEqual(['a']);
  });

  it('a failing chat does not take a place in the batch', async () => {
    const sweep = createRotationSweep({
      store: { chatsDueForRotation: async (_before, limit) => due('a', 'b', 'c').slice(0, limit) },
      rotate: async (chatId) => {
        if (chatId === 'a') throw new Error('no');
      },
      rotateSeconds: 60,
      onError: () => {},
      batch: 2,
    });
    expect(await sweep()).toEqual({ rotated: ['b'], failed: ['a'] });
    expect(await sweep()).toEqual({ rotated: ['b', 'c'], failed: [] });
  });

  it('yields to the event loop between chats, and a failure to list chats is logged, not thrown', async () => {
    const turns: boolean[] = [];
    let turned = false;
    const errors: unknown[] = [];
    let fail = false;
    const sweep = createRotationSweep({
      store: {
        chatsDueForRotation: async () => {
          if (fail) throw new Error('database away');
          return due('a', 'b', 'c');
        },
      },
      rotate: async () => {
        turns.push(turned);
      },
      rotateSeconds: 60,
      onError: (error) => errors.push(error),
    });
    setImmediate(() => {
      turned = true;
    });
    await sweep();
    expect(turns).toEqual([false, true, true]);
    fail = true;
    expect(await sweep()).toEqual({ rotated: [], failed: [] });
    expect(errors).toHaveLength(1);
  });

  it('on a real server, a chat whose rotation throws does not stop the others from rotating', async () => {
    await withServer({ SECURECHAT_ROTATE_SECONDS: '1' }, async (server) => {
      const { chats, bus } = server.app.services;
      const first = (await chats.create('alice', ['bob'])).chat.id;
      const second = (await chats.create('carol', ['dave'])).chat.id;
      const rotate = chats.rotate;
      vi.spyOn(chats, 'rotate').mockImplementation(async (chatId, reason, epoch) => {
        if (chatId === first) throw new Error('this chat cannot rotate');
        return rotate(chatId, reason, epoch);
      });
      const rotated = new Promise<void>((resolve) => {
        bus.subscribe((message) => {
          if (message.kind === 'event' && message.type === 'chat.key' && message.data.includes(second))
            resolve();
        });
      });
      await rotated;
      expect((await server.app.services.store.getChat(second))?.epoch).toBe(2);
      expect((await server.app.services.store.getChat(first))?.epoch).toBe(1);
    });
  }, 20_000);
});

describe('the signing share (issue 15, item 8)', () => {
  it('keeps at most its share of envelope signatures on the thread pool, and every envelope verifies', async () => {
    const alice = await readKeyStore(path.join(inject('fixtureKeys'), 'users', 'alice'));
    const server = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const encryption = createPublicKey(alice.encryption.publicKey);
    let inFlight = 0;
    let most = 0;
    const issue = createEnvelopeIssuer(
      server.privateKey,
      async () => encryption,
      1,
      async (...args) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await sealEnvelope(...args);
        } finally {
          inFlight -= 1;
        }
      },
    );
    const members = Array.from({ length: 200 }, (_, i) => `m${i}`);
    const envelopes = await issue('chat', 2, members);
    expect(most).toBe(1);
    expect([...envelopes.keys()].sort()).toEqual([...members].sort());
    const publicKey = createPublicKey(server.privateKey);
    for (const envelope of envelopes.values()) expect(await verifyEnvelope(publicKey, envelope)).toBe(true);
  });

  it('is a quarter of the thread pool, at least one', () => {
    expect([1, 4, 8, 16].map((pool) => signingSlots(pool))).toEqual([1, 1, 2, 4]);
  });

  /** An issuer with one signing slot whose sealing is `seal` and makes no signature. */
  async function fakeIssuer(seal: (fields: { chatId: string; recipient: string }) => Promise<void>) {
    const encryption = createPublicKey(
      (await readKeyStore(path.join(inject('fixtureKeys'), 'users', 'alice'))).encryption.publicKey,
    );
    const server = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return createEnvelopeIssuer(
      server.privateKey,
      async () => encryption,
      1,
      async (_key, fields) => {
        await seal(fields);
        return { ...fields, serverSignature: 'fake' } as never;
      },
    );
  }

  it('a rotation whose sealing fails on one member stops: no more signatures are made for it', async () => {
    const sealed: string[] = [];
    const issue = await fakeIssuer(async ({ recipient }) => {
      sealed.push(recipient);
      if (recipient === 'm2') throw new Error('the thread pool failed');
    });
    const members = Array.from({ length: 50 }, (_, i) => `m${i}`);
    await expect(issue('chat', 2, members)).rejects.toThrow('the thread pool failed');
    await new Promise((r) => setImmediate(r));
    expect(sealed).toEqual(['m0', 'm1', 'm2']);
  });

  it('takes turns between rotations: a small chat does not wait behind a large one', async () => {
    const sealed: string[] = [];
    const issue = await fakeIssuer(async ({ chatId }) => {
      sealed.push(chatId);
      await new Promise((r) => setImmediate(r));
    });
    const large = issue(
      'large',
      2,
      Array.from({ length: 100 }, (_, i) => `m${i}`),
    );
    const small = issue('small', 2, ['a', 'b', 'c']);
    await small;
    await large;
    // one slot: after the large rotation's first signature, the two take turns
    expect(sealed.slice(0, 7)).toEqual(['large', 'large', 'small', 'large', 'small', 'large', 'small']);
    expect(sealed).toHaveLength(103);
  });

  it('a member whose encryption key cannot wrap a key is a 400 naming them, never a 500', async () => {
    await withServer({}, async (server) => {
      const { store, accounts } = server.app.services;
      const alice = await accounts.publicKeys('alice');
      const n = createPublicKey(alice.encryptionKey).export({ format: 'jwk' });
      const even = Buffer.from(String(n.n), 'base64url');
      even[even.length - 1] = (even.at(-1) ?? 0) & 0xfe;
      const encryption = createPublicKey({
        key: { kty: 'RSA', n: even.toString('base64url'), e: String(n.e) },
        format: 'jwk',
      }).export({ type: 'spki', format: 'pem' }) as string;
      // stored before registration refused such keys
      const user = await store.getUser('alice');
      if (!user) throw new Error('no alice');
      await store.createUser({ ...user, username: 'evenmod', keys: { ...user.keys, encryption } });
      const as = async (username: string) => {
        const api = new Api(server.url);
        api.token = (await api.call('login', { body: { username, password: PASSWORD } })).body.token;
        return api;
      };
      const api = await as('alice');
      await as('bob');
      await as('evenmod');
      const created = await api.call('createChat', { body: { invitees: ['bob', 'evenmod'] } });
      expect(created.status).toBe(400);
      expect(created.body.code).toBe('INVALID_INVITEE');
      expect(created.body.detail).toMatch(/evenmod/);
      const chat = await api.call('createChat', { body: { invitees: ['bob'] } });
      expect(chat.status).toBe(201);
      const invited = await api.call('inviteToChat', {
        params: { chatId: chat.body.chat.id },
        body: { invitees: ['evenmod'] },
      });
      expect(invited.status).toBe(400);
      expect(invited.body.code).toBe('INVALID_INVITEE');
    });
  });
});
