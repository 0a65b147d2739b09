import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyCheckError } from '../../../src/crypto/keys.js';
import type { Accounts } from '../../../src/services/accounts.js';
import { createRegistration, inviteUser } from '../../../src/services/registration.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/types.js';
import type { UserRecord } from '../../../src/store/user-types.js';
import { tempDir } from '../../support/helper.js';

// POST /users's service with a real store and accounts whose checks (keys, password, hashing: what
// costs) are counted and can be held: a good code buys one check at a time, and a failed one counts.

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = await tempDir('registration-');
  store = openSqliteStore(dir);
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

const record = (username: string): UserRecord => ({
  username,
  passwordHash: 'x',
  keys: { encryption: 'e', signing: { 'rsa-pss-sha256': 'r', 'dsa-sha256': 'd', ed25519: 'x' } },
  createdAt: new Date().toISOString(),
  lastSeen: null,
});

/**
 * A registration whose accounts run `check` for each registration's checks (`newUser`), after
 * counting it in `checks`.
 */
function registrationWith(check: (n: number) => Promise<void>, failuresPerAddress = 100) {
  const checks: string[] = [];
  const accounts = {
    exists: async (username: string) => (await store.getUser(username)) !== undefined,
    newUser: async (username: string) => {
      checks.push(username);
      await check(checks.length);
      return record(username);
    },
    publicKeys: async () => ({ fingerprints: {} }),
  } as unknown as Accounts;
  return { checks, registration: createRegistration({ store, accounts, failuresPerAddress }) };
}

const input = (username: string, code: string) => ({
  username,
  password: 'a long password',
  code,
  encryptionKey: '',
  signingKeys: { 'rsa-pss-sha256': '', 'dsa-sha256': '', ed25519: '' },
});

const codeOf = (error: unknown) => (error as { code?: string }).code;

describe('a registration code buys one check at a time (security round 2, #3)', () => {
  it('while one request is checked with a code, another with it gets 403 INVALID_CODE at once, unchecked', async () => {
    let release = () => {};
    let entered = () => {};
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const { checks, registration } = registrationWith(async (n) => {
      if (n > 1) return;
      entered();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    const { code } = await inviteUser(store, 'held1');
    const first = registration.register(input('held1', code), '192.0.2.1');
    await inside;
    const second = await registration.register(input('held1', code), '192.0.2.2').catch((e) => e);
    expect(codeOf(second)).toBe('INVALID_CODE');
    expect(checks).toEqual(['held1']);
    release();
    expect((await first).username).toBe('held1');
    const third = await registration.register(input('held1', code), '192.0.2.3').catch((e) => e);
    expect(codeOf(third)).toBe('INVALID_CODE');
    expect(checks).toEqual(['held1']);
  });

  it('a good code with keys refused counts as a failure for the address, and the code stays usable', async () => {
    const { checks, registration } = registrationWith(async (n) => {
      if (n <= 2) throw new KeyCheckError('ed25519 key must be Ed25519');
    }, 2);
    const { code } = await inviteUser(store, 'retry1');
    for (let i = 0; i < 2; i++) {
      const refused = await registration.register(input('retry1', code), '192.0.2.10').catch((e) => e);
      expect(codeOf(refused)).toBe('INVALID_KEY');
    }
    // the address has used up its failures: not even a good request is checked
    const limited = await registration.register(input('retry1', code), '192.0.2.10').catch((e) => e);
    expect(codeOf(limited)).toBe('RATE_LIMITED');
    expect(checks).toHaveLength(2);
    // the code was never used up, nor left held
    expect((await registration.register(input('retry1', code), '192.0.2.11')).username).toBe('retry1');
  });

  it('a check the server fails lets the code go and is not counted against the address', async () => {
    const { registration } = registrationWith(async (n) => {
      if (n === 1) throw new Error('the thread pool failed');
    }, 1);
    const { code } = await inviteUser(store, 'crash1');
    await expect(registration.register(input('crash1', code), '192.0.2.20')).rejects.toThrow(
      'the thread pool failed',
    );
    expect((await registration.register(input('crash1', code), '192.0.2.20')).username).toBe('crash1');
  });
});
