import { expect } from 'vitest';
import type { Store } from '../../src/store/types.js';
import type { CodeHold, UserRecord } from '../../src/store/user-types.js';

// A registration code held by the one request checking it (POST /users), run the same way on both
// engines (test/unit/store/code-holds.test.ts, test/postgres/code-holds.test.ts). `stores` are
// instances on one database (SQLite: one).

const T0 = Date.parse('2026-03-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

const user = (username: string): UserRecord => ({
  username,
  passwordHash: 'x',
  keys: { encryption: 'e', signing: { 'rsa-pss-sha256': 'r', 'dsa-sha256': 'd', ed25519: 'x' } },
  createdAt: at(0),
  lastSeen: null,
});

async function invite(store: Store, username: string): Promise<string> {
  const codeHash = username.padEnd(64, '0').slice(0, 64);
  await store.putRegistrationCode({
    username,
    codeHash,
    createdAt: at(0),
    expiresAt: at(24 * 3600_000),
    usedAt: null,
  });
  return codeHash;
}

/** A hold of the code by `holder` at `now` ms (after T0) for a minute. */
const hold = (username: string, codeHash: string, holder: string, now = 1000): CodeHold => ({
  username,
  codeHash,
  holder,
  now: at(now),
  until: at(now + 60_000),
});

export async function expectCodeHoldsWork(stores: Store[], prefix: string): Promise<void> {
  const [store] = stores;
  const other = stores.at(-1) as Store;

  // one holder at a time; a wrong hash or a used code is never held
  const name = `${prefix}a`;
  const hash = await invite(store, name);
  expect(await store.reserveRegistrationCode(hold(name, 'f'.repeat(64), 'h0'))).toBe(false);
  expect(await store.reserveRegistrationCode(hold(name, hash, 'h1'))).toBe(true);
  expect(await other.reserveRegistrationCode(hold(name, hash, 'h2'))).toBe(false);
  // a non-holder can neither let go of the hold nor use the code meanwhile
  await other.releaseRegistrationCode(name, 'h2');
  expect(await other.reserveRegistrationCode(hold(name, hash, 'h2'))).toBe(false);
  expect(await other.createUserWithCode(user(name), hash, at(2000), 'h2')).toBe('invalid-code');
  expect(await other.createUserWithCode(user(name), hash, at(2000))).toBe('invalid-code');
  // the holder lets go: the code is anyone's again
  await store.releaseRegistrationCode(name, 'h1');
  expect(await other.reserveRegistrationCode(hold(name, hash, 'h2'))).toBe(true);
  // a holder that never comes back (a crash) holds it only until its hold ends
  expect(await store.reserveRegistrationCode(hold(name, hash, 'h3', 30_000))).toBe(false);
  expect(await store.reserveRegistrationCode(hold(name, hash, 'h3', 61_000))).toBe(true);
  // and the one whose hold ended cannot use it any more
  expect(await other.createUserWithCode(user(name), hash, at(62_000), 'h2')).toBe('invalid-code');
  expect(await store.createUserWithCode(user(name), hash, at(62_000), 'h3')).toBe('created');
  expect(await other.reserveRegistrationCode(hold(name, hash, 'h4', 63_000))).toBe(false);

  // a new code for the name clears a hold on the old one
  const renamed = `${prefix}b`;
  const first = await invite(store, renamed);
  expect(await store.reserveRegistrationCode(hold(renamed, first, 'h1'))).toBe(true);
  const second = await invite(store, renamed);
  expect(await other.reserveRegistrationCode(hold(renamed, second, 'h2'))).toBe(true);
  expect(await store.createUserWithCode(user(renamed), first, at(2000), 'h1')).toBe('invalid-code');

  // of many holds at once, on every instance, exactly one is taken
  const raced = `${prefix}c`;
  const racedHash = await invite(store, raced);
  const taken = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      stores[i % stores.length].reserveRegistrationCode(hold(raced, racedHash, `r${i}`)),
    ),
  );
  expect(taken.filter(Boolean)).toHaveLength(1);
}
