import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres.js';
import type { Store } from '../../src/store/types.js';
import { backendEnv } from '../support/backend.js';

// The checks a post makes before its append (revocation, membership) go to PostgreSQL in batches
// (src/store/postgres/lookups.ts). Two stores on one database: two instances.
let stores: Store[];
const poolErrors: unknown[] = [];
beforeAll(async () => {
  const url = (await backendEnv(`lookups-${randomUUID()}`)).DATABASE_URL;
  const open = () => openPostgresStore({ url, poolSize: 4, onError: (e) => poolErrors.push(e) });
  stores = await Promise.all([open(), open()]);
});
afterAll(async () => {
  for (const store of stores ?? []) await store.close();
  expect(poolErrors).toEqual([]);
});

const now = () => new Date().toISOString();
const hour = () => Date.now() + 3_600_000;

async function chatWith(members: string[], epoch = 1): Promise<string> {
  const id = randomUUID();
  await stores[0].createChat(
    {
      id,
      epoch,
      createdBy: members[0],
      createdAt: now(),
      members: members.map((username) => ({ username, state: 'joined', sinceEpoch: epoch })),
    },
    [],
    [],
  );
  return id;
}

describe('revocation and membership checks asked together (batched lookups)', () => {
  it('answer each check for its own token, revocations made on the other instance included', async () => {
    const jtis = Array.from({ length: 60 }, () => randomUUID());
    const revoked = new Set(jtis.filter((_, i) => i % 3 === 0));
    for (const jti of revoked) await stores[1].revokeToken(jti, hour());
    const answers = await Promise.all(jtis.map((jti) => stores[0].isTokenRevoked(jti)));
    expect(answers).toEqual(jtis.map((jti) => revoked.has(jti)));
  });

  it('see a revocation committed on another instance before they were asked, whatever is in flight', async () => {
    const jti = randomUUID();
    let revokedAt = Number.POSITIVE_INFINITY;
    let asked = 0;
    const missed: number[] = [];
    // checks keep coming while the revocation commits on the other instance: every check asked
    // after it committed must see it, even one asked while an earlier batch was on its way
    const checks = (async () => {
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < 300; i++) {
        const askedAfter = performance.now() > revokedAt;
        const n = asked++;
        inFlight.push(
          stores[0].isTokenRevoked(jti).then((answer) => {
            if (askedAfter && !answer) missed.push(n);
          }),
        );
        if (i % 10 === 9) await new Promise((r) => setImmediate(r));
      }
      await Promise.all(inFlight);
    })();
    await new Promise((r) => setImmediate(r));
    await stores[1].revokeToken(jti, hour());
    revokedAt = performance.now();
    await checks;
    expect(missed).toEqual([]);
    expect(await stores[0].isTokenRevoked(jti)).toBe(true);
  });

  it("answer each member's standing in their own chat, a departure on the other instance seen at once", async () => {
    const first = await chatWith(['alice', 'bob', 'carol']);
    const second = await chatWith(['bob', 'dave'], 7);
    await stores[1].changeMembership({
      chatId: first,
      expectedEpoch: 1,
      epoch: 2,
      upsert: [],
      remove: ['bob'],
      envelopes: [],
      events: [],
    });
    const asks: [string, string][] = [
      [first, 'alice'],
      [first, 'bob'],
      [second, 'bob'],
      [first, 'carol'],
      [second, 'dave'],
      [second, 'alice'],
      [randomUUID(), 'alice'],
      [first, 'alice'],
    ];
    const answers = await Promise.all(asks.map(([chat, user]) => stores[0].membership(chat, user)));
    const joined = (username: string, epoch: number, sinceEpoch: number) => ({
      epoch,
      rekeyPending: false,
      member: { username, state: 'joined', sinceEpoch },
    });
    expect(answers).toEqual([
      joined('alice', 2, 1),
      undefined, // bob left the first chat: a post of his is refused before its signature is checked
      joined('bob', 7, 7),
      joined('carol', 2, 1),
      joined('dave', 7, 7),
      undefined,
      undefined,
      joined('alice', 2, 1),
    ]);
  });
});
