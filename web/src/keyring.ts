import {
  type Api,
  type Bytes,
  ClientError,
  checkedKeySet,
  escapeControls,
  type Fingerprints,
  fingerprint,
  importEncryptionKey,
  importPrivatePem,
  pemToDer,
  type SignatureProvider,
  type UserKeys,
} from '../../src/client/index.js';
import { idbDelete, idbGet, idbPut } from './db.js';

/**
 * The private keys the page uses, by file name in the key store folder (`keys/users/<name>/`).
 * The DSA key is never read: the page does not sign with DSA (see dsa.ts in src/client).
 */
export const KEY_FILES = {
  'encryption.key.pem': 'encryption',
  'signing-rsa.key.pem': 'rsa-pss-sha256',
  'signing-ed25519.key.pem': 'ed25519',
} as const;
type Purpose = (typeof KEY_FILES)[keyof typeof KEY_FILES];

const PARAMS: Record<Purpose, { alg: RsaHashedImportParams | Algorithm; priv: KeyUsage; pub: KeyUsage }> = {
  encryption: { alg: { name: 'RSA-OAEP', hash: 'SHA-256' }, priv: 'decrypt', pub: 'encrypt' },
  'rsa-pss-sha256': { alg: { name: 'RSA-PSS', hash: 'SHA-256' }, priv: 'sign', pub: 'verify' },
  ed25519: { alg: { name: 'Ed25519' }, priv: 'sign', pub: 'verify' },
};

/** What IndexedDB keeps per user: the non-extractable keys and the public keys they match. */
interface Kept {
  keys: UserKeys;
  fingerprints: Fingerprints;
}

const storeKey = (username: string) => `keys/${username}`;

/**
 * The public key of a PKCS#8 private key, as SPKI DER: imported once (extractable, only to read
 * its public half, and then dropped), its public fields re-imported and exported.
 */
async function publicSpki(der: Bytes, purpose: Purpose): Promise<Bytes> {
  const { alg, priv, pub } = PARAMS[purpose];
  const subtle = crypto.subtle;
  const privateKey = await subtle.importKey('pkcs8', der, alg, true, [priv]);
  const jwk = await subtle.exportKey('jwk', privateKey);
  const publicJwk: JsonWebKey =
    purpose === 'ed25519' ? { kty: 'OKP', crv: 'Ed25519', x: jwk.x } : { kty: 'RSA', n: jwk.n, e: jwk.e };
  const publicKey = await subtle.importKey('jwk', publicJwk, alg, true, [pub]);
  return new Uint8Array(await subtle.exportKey('spki', publicKey));
}

/** The user's registered public keys, checked as registration checks them, fingerprinted here. */
async function registered(api: Api, provider: SignatureProvider, username: string) {
  const res = await api.call<{ encryptionKey: string; signingKeys: UserKeys['publicKeys']['signing'] }>(
    'GET',
    `/users/${encodeURIComponent(username)}/keys`,
  );
  const { fingerprints } = await checkedKeySet(provider, res?.encryptionKey, res?.signingKeys);
  return { publicKeys: { encryption: res.encryptionKey, signing: res.signingKeys }, fingerprints };
}

function mismatch(username: string, purposes: string[]): ClientError {
  return new ClientError(
    `These are not ${escapeControls(username)}'s keys: the ${purposes.join(', ')} key's fingerprint differs ` +
      'from the one registered on the server. Nothing was kept; pick the files of your own key store.',
  );
}

/**
 * Reads the picked files, imports the private keys non-extractable, and keeps them for this user
 * only if each one's public half has the fingerprint the server has registered for the user.
 */
export async function loadKeyStore(
  files: File[],
  username: string,
  api: Api,
  provider: SignatureProvider,
): Promise<UserKeys> {
  const pems = {} as Record<Purpose, string>;
  for (const file of files) {
    const purpose = (KEY_FILES as Record<string, Purpose>)[file.name];
    if (purpose && file.size < 64 * 1024) pems[purpose] = await file.text();
  }
  const missing = Object.entries(KEY_FILES)
    .filter(([, p]) => pems[p] === undefined)
    .map(([name]) => name);
  if (missing.length)
    throw new ClientError(
      `Missing ${missing.join(', ')}: pick the .key.pem files of keys/users/${escapeControls(username)}/ (or the folder).`,
    );
  const ders = {} as Record<Purpose, Bytes>;
  for (const purpose of Object.values(KEY_FILES)) {
    const der = pemToDer(pems[purpose], 'PRIVATE KEY');
    if (!der) throw new ClientError(`The ${purpose} key file is not a PKCS#8 PEM private key.`);
    ders[purpose] = der;
  }
  const server = await registered(api, provider, username);
  const differ: string[] = [];
  for (const purpose of Object.values(KEY_FILES)) {
    let spki: Bytes;
    try {
      spki = await publicSpki(ders[purpose], purpose);
    } catch {
      throw new ClientError(`The ${purpose} key file does not hold a key of the right kind.`);
    }
    if ((await fingerprint(spki)) !== server.fingerprints[purpose]) differ.push(purpose);
  }
  if (differ.length) throw mismatch(username, differ);
  const keys: UserKeys = {
    encryption: await importEncryptionKey(pems.encryption),
    signing: {
      'rsa-pss-sha256': await importPrivatePem(provider, 'rsa-pss-sha256', pems['rsa-pss-sha256']),
      ed25519: await importPrivatePem(provider, 'ed25519', pems.ed25519),
    },
    publicKeys: server.publicKeys,
  };
  await idbPut(storeKey(username), { keys, fingerprints: server.fingerprints } satisfies Kept);
  return keys;
}

/**
 * The keys kept for this user on this browser, if they still match the server's registered keys
 * (after a key change on the server they are refused and must be picked again).
 */
export async function keptKeys(username: string, api: Api, provider: SignatureProvider) {
  const kept = await idbGet<Kept>(storeKey(username));
  if (!kept) return undefined;
  const server = await registered(api, provider, username);
  const differ = Object.values(KEY_FILES).filter((p) => kept.fingerprints[p] !== server.fingerprints[p]);
  if (differ.length) throw mismatch(username, differ);
  return { ...kept.keys, publicKeys: server.publicKeys };
}

export function forgetKeys(username: string): Promise<void> {
  return idbDelete(storeKey(username));
}
