import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type Fingerprints,
  generateKeyStore,
  keySetFingerprint,
  keyStoreFiles,
  keyStoreFingerprints,
  type PemKeyPairSet,
  USERNAME,
} from '../../src/client/index.js';
import { nodeDsaKeyGenerator } from '../../src/client/node/index.js';
import { readKeyStore, writeAtomic, writeKeyStore } from '../../src/crypto/keystore.js';
import { CliError } from '../errors.js';
import { shortScheme } from '../format.js';

export interface KeygenOptions {
  keysDir: string;
  user?: string;
  force?: boolean;
  /** `--export-public DIR`: copy the public halves of the existing key store there instead. */
  exportPublic?: string;
  /** Modulus of the RSA keys (tests: 2048); the protocol's 3072 otherwise. */
  rsaBits?: number;
}

export interface KeygenResult {
  lines: string[];
  warnings: string[];
  result: { username: string; dir: string; fingerprints: Fingerprints; all: string };
  keys: PemKeyPairSet;
}

export function userDir(keysDir: string, user: string | undefined): string {
  if (!user) throw new CliError('whose keys? pass --user NAME (or set SECURECHAT_USER)');
  if (!USERNAME.test(user)) throw new CliError(`--user must match ${USERNAME.source}`);
  return path.join(keysDir, 'users', user);
}

async function hasPrivateKeys(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.some((name) => name.endsWith('.key.pem'));
}

async function describeKeys(username: string, dir: string, keys: PemKeyPairSet, lines: string[]) {
  const fingerprints = await keyStoreFingerprints(keys);
  const all = await keySetFingerprint(fingerprints);
  for (const [k, v] of Object.entries(fingerprints)) lines.push(`  ${shortScheme(k).padEnd(10)} ${v}`);
  lines.push(`  ${'all keys'.padEnd(10)} ${all}`);
  return { lines, warnings: [], result: { username, dir, fingerprints, all }, keys };
}

/**
 * `keygen`: the user's four key pairs made here, in keys/users/NAME/ (private files 0600, the
 * folder 0700). An existing store is replaced only with --force: what was sent to the old keys
 * can no longer be read.
 */
export async function keygen(options: KeygenOptions): Promise<KeygenResult> {
  const dir = userDir(options.keysDir, options.user);
  const username = options.user as string;
  if (options.exportPublic !== undefined)
    return exportPublic(username, dir, options.exportPublic, options.force);
  const warnings: string[] = [];
  if (await hasPrivateKeys(dir)) {
    if (!options.force)
      throw new CliError(
        `${dir} already holds a key store for ${username}; --force replaces it, after which messages and chat keys sent to the old keys can no longer be read`,
      );
    warnings.push(
      `WARNING: replacing the key store in ${dir}: what was encrypted for the old keys becomes unreadable, and the server keeps the old public keys until an administrator registers the new ones`,
    );
  }
  const keys = await generateKeyStore({ dsa: nodeDsaKeyGenerator, rsaBits: options.rsaBits });
  await writeKeyStore(dir, keys);
  await chmod(dir, 0o700);
  const described = await describeKeys(username, dir, keys, [`made a key store for ${username} in ${dir}:`]);
  described.lines.push(`public halves (to register, or for user:add --public-keys): ${dir}/*.pub.pem`);
  return { ...described, warnings };
}

async function exportPublic(username: string, dir: string, target: string, force?: boolean) {
  const keys = await readKeyStore(dir).catch(() => {
    throw new CliError(`no readable key store for ${username} in ${dir}; make one with securechat keygen`);
  });
  await mkdir(target, { recursive: true });
  for (const file of keyStoreFiles(keys, 'public')) {
    const to = path.join(target, file.name);
    // --force replaces what is there (a symlink planted in a shared DIR included), never writes through it
    await (force
      ? writeAtomic(to, file.content, 0o644)
      : writeFile(to, file.content, { mode: 0o644, flag: 'wx' })
    ).catch((error) => {
      if (error.code === 'EEXIST')
        throw new CliError(`${path.join(target, file.name)} exists; --force overwrites it`);
      throw error;
    });
  }
  const lines = [`wrote the public keys of ${username} to ${target}:`];
  const described = await describeKeys(username, target, keys, lines);
  lines.push(`an administrator registers them with: npm run user:add -- ${username} --public-keys ${target}`);
  return described;
}

/** The key store of `user`, made first when there is none (`register`). */
export async function ensureKeyStore(
  options: KeygenOptions,
): Promise<KeygenResult | { keys: PemKeyPairSet }> {
  const dir = userDir(options.keysDir, options.user);
  if (await hasPrivateKeys(dir)) return { keys: await readKeyStore(dir) };
  return keygen(options);
}
