import { createHmac, createPrivateKey, createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import {
  fingerprint,
  generateKeyPairSet,
  generatePemKeyPair,
  type KeySizes,
  PRODUCTION_KEY_SIZES,
  publicKeysOf,
} from '../crypto/keys.js';
import { readPublicKeys, userKeyStoreDir, writeKeyStore } from '../crypto/keystore.js';
import { selfSignedCertificate } from '../crypto/tls.js';
import type { Store } from '../store/types.js';
import type { Accounts } from './accounts.js';

export const DEMO_USERS = [1, 2, 3, 4, 5].map((n) => ({ username: `user${n}`, password: `password${n}` }));

type Log = { info: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** The server's RSA-PSS envelope-signing key, made once in `keys/server/`. */
export async function ensureServerKey(
  keysDir: string,
  log: Log,
  rsaBits = PRODUCTION_KEY_SIZES.rsaBits,
): Promise<KeyObject> {
  const dir = path.join(keysDir, 'server');
  const privateFile = path.join(dir, 'signing.key.pem');
  if (!(await exists(privateFile))) {
    log.info({ dir, rsaBits }, 'creating the server signing key');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = await generatePemKeyPair('rsa', { modulusLength: rsaBits });
    try {
      await writeFile(privateFile, pair.privateKey, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // another instance on the same folder made it first: theirs is the key
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    }
  }
  const key = createPrivateKey(await readFile(privateFile, 'utf8'));
  const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
  const publicFile = path.join(dir, 'signing.pub.pem');
  if ((await readFile(publicFile, 'utf8').catch(() => '')) !== publicPem)
    await writeFile(publicFile, publicPem, { mode: 0o644 });
  return key;
}

/**
 * Instances that share a database must share the JWT secret (a token from one is checked by
 * another) and the envelope-signing key (clients pin it). The first instance records a check
 * value of each in the database; one that differs refuses to start, saying which and why.
 */
export async function checkSharedIdentity(
  store: Store,
  jwtSecret: string,
  serverKey: KeyObject,
): Promise<void> {
  const secretCheck = createHmac('sha256', jwtSecret)
    .update('securechat: instances share this secret')
    .digest('base64url');
  if ((await store.claim('jwt_secret_check', secretCheck)) !== secretCheck) {
    throw new Error(
      'this instance has a different JWT secret from the instances already using this database: give every instance the same SECURECHAT_JWT_SECRET (or the same data folder)',
    );
  }
  const keyFingerprint = fingerprint(createPublicKey(serverKey));
  if ((await store.claim('server_key_fingerprint', keyFingerprint)) !== keyFingerprint) {
    throw new Error(
      `this instance's server signing key (${keyFingerprint}) is not the one the instances already using this database sign with: copy keys/server/signing.key.pem from them`,
    );
  }
}

/** The TLS key and certificate: given files, or (self-signed) made once in `keys/server/`. */
export async function ensureTls(
  config: Config,
  log: Log,
): Promise<{ key: string; cert: string } | undefined> {
  const tls = config.tls;
  if (tls.mode === 'off') return undefined;
  if (tls.mode === 'files')
    return { key: await readFile(tls.key, 'utf8'), cert: await readFile(tls.cert, 'utf8') };
  const dir = path.join(config.keysDir, 'server');
  const keyFile = path.join(dir, 'tls.key.pem');
  const certFile = path.join(dir, 'tls.cert.pem');
  if (!(await exists(certFile))) {
    log.info({ certFile }, 'creating a self-signed TLS certificate for localhost, 127.0.0.1 and ::1');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = await generatePemKeyPair('rsa', { modulusLength: 2048 });
    await writeFile(keyFile, pair.privateKey, { mode: 0o600 });
    await writeFile(certFile, selfSignedCertificate({ privateKey: pair.privateKey }), { mode: 0o644 });
  }
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
}

/** A 256-bit HS256 secret kept in the data folder (mode 0600) unless one is configured. */
export async function ensureJwtSecret(dataDir: string, configured?: string): Promise<string> {
  if (configured) return configured;
  const file = path.join(dataDir, 'jwt.secret');
  // 0700 whatever made the folder before (mkdir's mode only applies to a folder it creates)
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  if (!(await exists(file))) {
    await writeFile(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' }).catch(
      (error) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
  }
  await chmod(file, 0o600);
  return (await readFile(file, 'utf8')).trim();
}

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
