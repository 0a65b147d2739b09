import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { loginLimits } from '../../../src/plugins/accounts.js';
import { createAccounts } from '../../../src/services/accounts.js';
import { HASH_NICE, lowPriorityBcrypt } from '../../../src/services/hash-pool.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

describe('password checks during a login storm (performance round 3, #5)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it('run at most the hashing share at once, on low-priority threads, and every login is answered', async () => {
    // more threads than the share: the share, not the threads, is what must hold
    // as while the server is busy: every hash on a low-priority thread
    const hasher = lowPriorityBcrypt(4, () => true, 60_000);
    const accounts = createAccounts({
      store: server.app.store,
      bcryptCost: 4,
      tokenTtlSeconds: 60,
      signToken: () => 'token',
      ...loginLimits(loadConfig({})),
      hasher,
      hashSlots: 2,
      hashQueue: 100,
      hashesPerAddress: 100,
    });
    // the hash that unknown users are compared against is made once, when the accounts are made:
    // a first failed login waits for it
    await accounts.login('nobody', 'a wrong guess', '203.0.113.1').catch(() => {});
    let most = 0;
    let answered = 0;
    const logins = Array.from({ length: 12 }, (_, i) =>
      (i % 2 === 0
        ? accounts.login('alice', PASSWORD, `192.0.2.${i}`)
        : accounts.login(`nobody${i}`, 'a wrong guess', `198.51.100.${i}`)
      )
        .then(
          (ok) => ok.username,
          (error) => error.code,
        )
        .finally(() => {
          answered += 1;
        }),
    );
    while (answered < logins.length) {
      most = Math.max(most, hasher.running());
      await new Promise((r) => setImmediate(r));
    }
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBeGreaterThan(0);
    expect(await Promise.all(logins)).toEqual(
      Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 'alice' : 'INVALID_CREDENTIALS')),
    );
    if (process.platform === 'linux') for (const nice of hasher.priorities()) expect(nice).toBe(HASH_NICE);
  });
});
