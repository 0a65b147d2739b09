import path from 'node:path';
import { generateKeyPairSet, type KeySizes, PRODUCTION_KEY_SIZES, publicKeysOf } from '../crypto/keys.js';
import { readPublicKeys, userKeyStoreDir, writeKeyStore } from '../crypto/keystore.js';
import type { Accounts } from '../services/accounts.js';
import { exists, type Log } from './files.js';

export const DEMO_USERS = [1, 2, 3, 4, 5].map((n) => ({ username: `user${n}`, password: `password${n}` }));

/**
 * Registers user1..user5 (password1..password5) when they are missing, writing each one's key store
 * to `keys/users/<name>/`; a key store already there is reused (only its public keys are read).
 */
export async function provisionDemoUsers(
  accounts: Accounts,
  keysDir: string,
  log: Log,
  sizes: KeySizes = PRODUCTION_KEY_SIZES,
): Promise<void> {
  const missing = [];
  for (const user of DEMO_USERS) if (!(await accounts.exists(user.username))) missing.push(user);
  if (missing.length === 0) return;
  const started = Date.now();
  log.info(
    { users: missing.map((u) => u.username), keysDir },
    `registering demo users; generating key stores (RSA-${sizes.rsaBits}, DSA-2048/256, Ed25519) in parallel, once`,
  );
  await Promise.all(
    missing.map(async ({ username, password }) => {
      const dir = userKeyStoreDir(keysDir, username);
      let keys: Awaited<ReturnType<typeof readPublicKeys>>;
      if (await exists(path.join(dir, 'encryption.pub.pem'))) {
        keys = await readPublicKeys(dir);
        log.warn({ username, dir }, 'reusing the demo key store already on disk');
      } else {
        const pairs = await generateKeyPairSet(sizes);
        await writeKeyStore(dir, pairs);
        keys = publicKeysOf(pairs);
      }
      await accounts.register(username, password, keys);
    }),
  );
  log.info({ ms: Date.now() - started }, 'demo users ready: user1..user5, passwords password1..password5');
}
