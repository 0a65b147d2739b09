import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import {
  Api,
  generateKeyStore,
  keySetFingerprint,
  keyStoreFiles,
  type PemKeyPairSet,
  replaceKeys,
  resetKeys,
} from '../../src/client/index.js';
import { nodeDsaKeyGenerator, nodeFetch } from '../../src/client/node/index.js';
import { readKeyStore, writeKeyStore } from '../../src/crypto/keystore.js';
import type { Context } from '../context.js';
import { CliError } from '../errors.js';
import { userDir } from './keygen.js';

/** Accounts over time from the terminal: password, logout everywhere, keys replace, register --reset. */

/** Moves the key files of `dir` into `dir/replaced-<time>/` (the state files stay); answers that folder. */
async function moveAside(dir: string, keys: PemKeyPairSet): Promise<string> {
  const aside = path.join(dir, `replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(aside, { mode: 0o700 });
  for (const file of keyStoreFiles(keys, 'all'))
    await rename(path.join(dir, file.name), path.join(aside, file.name));
  return aside;
}

/** The new key store, made on this device. */
const newKeys = () => generateKeyStore({ dsa: nodeDsaKeyGenerator });

export async function changePassword(ctx: Context, currentPassword: string, newPassword: string) {
  await ctx.session.api.changePassword({ currentPassword, newPassword }).catch((error) => {
    throw new CliError(`password not changed: ${(error as Error).message}`);
  });
  ctx.say('password changed; every other session of yours has ended');
  ctx.result({ changed: true });
}

export async function logoutEverywhere(ctx: Context) {
  await ctx.session.api.logout({ everywhere: true });
  ctx.say('logged out everywhere: every session of yours has ended');
  ctx.result({ loggedOut: 'everywhere' });
}

/**
 * `keys replace`: new keys made here, registered with a signature by the current ed25519 key; the
 * old key files are kept in a folder beside (still able to open what was sent to them).
 */
export async function replace(ctx: Context, keysDir: string, password: string) {
  const s = ctx.session;
  const dir = userDir(keysDir, s.username);
  const old = await readKeyStore(dir);
  const next = await newKeys();
  const done = await replaceKeys(s.api, {
    username: s.username,
    password,
    current: s.keys,
    provider: s.provider,
    next,
  });
  const aside = await moveAside(dir, old);
  await writeKeyStore(dir, next);
  ctx.say(`replaced your keys; the old key files are in ${aside}`);
  ctx.say(`your new keys' fingerprint (all keys): ${await keySetFingerprint(done.fingerprints)}`);
  ctx.say(
    'every chat of yours has a new epoch; the people you chat with are told that you replaced your keys, signed with your old key, and accept the new fingerprints before they read your new messages',
  );
  ctx.result({ username: done.username, fingerprints: done.fingerprints, oldKeys: aside });
}

/** `register --reset`: new keys made here, registered with the administrator's reset code. */
export async function registerReset(options: {
  keysDir: string;
  user?: string;
  server: string;
  ca?: string;
  code?: string;
  newPassword?: string;
}) {
  const dir = userDir(options.keysDir, options.user);
  if (!options.code)
    throw new CliError('register --reset needs the reset code from your administrator (npm run user:reset)');
  const next = await newKeys();
  const http = nodeFetch({ ca: options.ca });
  try {
    const api = new Api({ server: options.server, ...http });
    const done = await resetKeys(api, {
      username: options.user as string,
      code: options.code,
      next,
      newPassword: options.newPassword,
    });
    const old = await readKeyStore(dir).catch(() => undefined);
    const aside = old ? await moveAside(dir, old) : undefined;
    await writeKeyStore(dir, next);
    const lines = [
      `reset ${done.username}: new keys in ${dir}${aside ? ` (the old ones in ${aside})` : ''}`,
      `fingerprint (all keys): ${await keySetFingerprint(done.fingerprints)}; the people you chat with are told the administrator reset your keys: read it to them`,
    ];
    return { lines, result: { username: done.username, fingerprints: done.fingerprints } };
  } finally {
    await http.close();
  }
}
