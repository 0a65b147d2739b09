import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type KeyPairSet, type PublicKeySet, SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './keys.js';

/** File names of a key store folder (`keys/users/<username>/`), fixed by the protocol. */
const SIGNING_FILE: Record<SignatureAlgorithm, string> = {
  'rsa-pss-sha256': 'signing-rsa',
  'dsa-sha256': 'signing-dsa',
  ed25519: 'signing-ed25519',
};

/** The four public halves of a key store, by file name. */
export const PUBLIC_KEY_FILES = ['encryption', ...SIGNATURE_ALGORITHMS.map((alg) => SIGNING_FILE[alg])].map(
  (name) => `${name}.pub.pem`,
);

export function userKeyStoreDir(keysDir: string, username: string): string {
  return path.join(keysDir, 'users', username);
}

/** Through a new temporary file and a rename: a symlink at `file` is replaced, never followed. */
export async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text, { mode, flag: 'wx' });
  await rename(temp, file);
}

/** Writes the eight files; private keys are 0600 and the folder 0700. */
export async function writeKeyStore(dir: string, pairs: KeyPairSet): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files: [string, { privateKey: string; publicKey: string }][] = [
    ['encryption', pairs.encryption],
    ...SIGNATURE_ALGORITHMS.map(
      (alg) => [SIGNING_FILE[alg], pairs.signing[alg]] as [string, KeyPairSet['encryption']],
    ),
  ];
  for (const [name, pair] of files) {
    await writeAtomic(path.join(dir, `${name}.key.pem`), pair.privateKey, 0o600);
    await writeAtomic(path.join(dir, `${name}.pub.pem`), pair.publicKey, 0o644);
  }
}

/** Reads only the public half of a key store. */
export async function readPublicKeys(dir: string): Promise<PublicKeySet> {
  const read = (name: string) => readFile(path.join(dir, `${name}.pub.pem`), 'utf8');
  const [encryption, rsa, dsa, ed] = await Promise.all([
    read('encryption'),
    ...SIGNATURE_ALGORITHMS.map((alg) => read(SIGNING_FILE[alg])),
  ]);
  return { encryption, signing: { 'rsa-pss-sha256': rsa, 'dsa-sha256': dsa, ed25519: ed } };
}

/** Reads a whole key store; only a client (or the demo provisioning that wrote it) does this. */
export async function readKeyStore(dir: string): Promise<KeyPairSet> {
  const pair = async (name: string) => ({
    privateKey: await readFile(path.join(dir, `${name}.key.pem`), 'utf8'),
    publicKey: await readFile(path.join(dir, `${name}.pub.pem`), 'utf8'),
  });
  const [encryption, rsa, dsa, ed] = await Promise.all([
    pair('encryption'),
    ...SIGNATURE_ALGORITHMS.map((alg) => pair(SIGNING_FILE[alg])),
  ]);
  return { encryption, signing: { 'rsa-pss-sha256': rsa, 'dsa-sha256': dsa, ed25519: ed } };
}
