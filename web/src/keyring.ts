import {
  type Api,
  type Bytes,
  ClientError,
  checkedKeySet,
  escapeControls,
  FINGERPRINT_KEYS,
  type Fingerprints,
  type FormerKey,
  fingerprint,
  importEncryptionKey,
  importPrivatePem,
  importUserKeys,
  type KeyHandle,
  keyStoreFingerprints,
  type PemKeyPairSet,
  pemToDer,
  type SignatureProvider,
  type UserKeys,
} from '../../src/client/index.js';
import { idbDelete, idbGet, idbPut, idbUpdate } from './db.js';

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

const OAEP = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;

/**
 * The public DSA key of the key store, when picked with it (a new account's is, and the folder
 * holds it): the page has no DSA private key to challenge, and checks commits its user's CLI
 * signed with DSA under this key, so the server's copy must be this one.
 */
export const DSA_PUBLIC_FILE = 'signing-dsa.pub.pem';

/** What IndexedDB keeps per user: the non-extractable keys and the public keys they match. */
interface Kept {
  keys: UserKeys;
  fingerprints: Fingerprints;
  /** Set aside: when this page replaced it (ms since the epoch). */
  replacedAt?: number;
}

const storeKey = (username: string) => `keys/${username}`;
/** Key sets a key change replaced (newest first), kept aside as the CLI keeps `replaced-<time>/`. */
const asideKey = (username: string) => `keys-replaced/${username}`;

/**
 * Whether a private key (already imported non-extractable) belongs to the registered public key:
 * it signs a random challenge that the public key verifies, or opens what the public key wrapped.
 * No extractable copy of a private key is ever made, not even to read its public half.
 */
async function matches(
  provider: SignatureProvider,
  purpose: Purpose,
  privateKey: KeyHandle,
  publicKey: KeyHandle,
): Promise<boolean> {
  const challenge = crypto.getRandomValues(new Uint8Array(32));
  try {
    if (purpose === 'encryption') {
      const wrapped = await crypto.subtle.encrypt(OAEP, publicKey as CryptoKey, challenge);
      const opened = new Uint8Array(await crypto.subtle.decrypt(OAEP, privateKey as CryptoKey, wrapped));
      return opened.length === challenge.length && opened.every((b, i) => b === challenge[i]);
    }
    return await provider.verify(
      purpose,
      publicKey,
      challenge,
      await provider.sign(purpose, privateKey, challenge),
    );
  } catch {
    return false;
  }
}

/** The user's registered public keys, checked as registration checks them, fingerprinted here. */
async function registered(api: Api, provider: SignatureProvider, username: string) {
  const res = await api.getUserKeys(username);
  const { keys, fingerprints } = await checkedKeySet(provider, res?.encryptionKey, res?.signingKeys);
  const encryption = await crypto.subtle.importKey(
    'spki',
    pemToDer(res.encryptionKey, 'PUBLIC KEY') as Bytes,
    OAEP,
    false,
    ['encrypt'],
  );
  return {
    publicKeys: { encryption: res.encryptionKey, signing: res.signingKeys },
    fingerprints,
    handles: { ...keys, encryption } as Record<Purpose, KeyHandle>,
  };
}

function mismatch(username: string, purposes: string[], hint = ''): ClientError {
  return new ClientError(
    `These are not ${escapeControls(username)}'s keys: the ${purposes.join(', ')} key's fingerprint differs ` +
      `from the one registered on the server. Nothing was kept; pick the files of your own key store.${hint}`,
  );
}

/**
 * Reads the picked files, imports the private keys non-extractable, and keeps them for this user
 * only if each one is the private half of the key the server has registered for the user.
 */
export async function loadKeyStore(
  files: File[],
  username: string,
  api: Api,
  provider: SignatureProvider,
): Promise<UserKeys> {
  const pems = {} as Record<Purpose, string>;
  const picked = files.filter((file) => Object.hasOwn(KEY_FILES, file.name));
  // a folder above the user's (keys/users/, say) holds everyone's: nothing of it is read
  const twice = picked.find((file, i) => picked.findIndex((f) => f.name === file.name) !== i);
  if (twice)
    throw new ClientError(
      `Several files named ${twice.name} were picked: pick the files of keys/users/${escapeControls(username)}/ only (or that folder).`,
    );
  for (const file of picked) {
    const purpose = KEY_FILES[file.name as keyof typeof KEY_FILES];
    if (file.size < 64 * 1024) pems[purpose] = await file.text();
  }
  const missing = Object.entries(KEY_FILES)
    .filter(([, p]) => pems[p] === undefined)
    .map(([name]) => name);
  if (missing.length)
    throw new ClientError(
      `Missing ${missing.join(', ')}: pick the .key.pem files of keys/users/${escapeControls(username)}/ (or the folder).`,
    );
  // imported non-extractable at once: the page never holds a private key it could read back
  const imported = {} as Record<Purpose, KeyHandle>;
  for (const purpose of Object.values(KEY_FILES)) {
    if (!pemToDer(pems[purpose], 'PRIVATE KEY'))
      throw new ClientError(`The ${purpose} key file is not a PKCS#8 PEM private key.`);
    try {
      imported[purpose] =
        purpose === 'encryption'
          ? await importEncryptionKey(pems.encryption)
          : await importPrivatePem(provider, purpose, pems[purpose]);
    } catch {
      throw new ClientError(`The ${purpose} key file does not hold a key of the right kind.`);
    }
  }
  const server = await registered(api, provider, username);
  const differ: string[] = [];
  for (const purpose of Object.values(KEY_FILES))
    if (!(await matches(provider, purpose, imported[purpose], server.handles[purpose]))) differ.push(purpose);
  let hint = '';
  const dsa = files.filter((file) => file.name === DSA_PUBLIC_FILE);
  if (dsa.length > 1)
    throw new ClientError(
      `Several files named ${DSA_PUBLIC_FILE} were picked: pick the files of keys/users/${escapeControls(username)}/ only (or that folder).`,
    );
  if (dsa.length === 1) {
    const der = dsa[0].size < 64 * 1024 ? pemToDer(await dsa[0].text(), 'PUBLIC KEY') : undefined;
    if (!der || (await fingerprint(der)) !== server.fingerprints['dsa-sha256']) differ.push('dsa-sha256');
  } else {
    // no private key here vouches for the DSA key: one other than the one this browser kept (a
    // later login refused it) is taken only against the key store's own public DSA key
    const kept = (await idbGet<Kept>(storeKey(username)))?.fingerprints['dsa-sha256'];
    if (kept !== undefined && kept !== server.fingerprints['dsa-sha256']) {
      differ.push('dsa-sha256');
      hint = ` The DSA key is checked against ${DSA_PUBLIC_FILE}: pick it too (the folder holds it).`;
    }
  }
  if (differ.length) throw mismatch(username, differ, hint);
  const keys: UserKeys = {
    encryption: imported.encryption as CryptoKey,
    signing: { 'rsa-pss-sha256': imported['rsa-pss-sha256'], ed25519: imported.ed25519 },
    publicKeys: server.publicKeys,
  };
  await idbPut(storeKey(username), { keys, fingerprints: server.fingerprints } satisfies Kept);
  return { ...keys, former: await formerKeys(username) };
}

/**
 * The keys kept for this user on this browser, if they still match the server's registered keys
 * (after a key change on the server they are refused and must be picked again).
 */
export async function keptKeys(username: string, api: Api, provider: SignatureProvider) {
  const kept = await idbGet<Kept>(storeKey(username));
  if (!kept) return undefined;
  const server = await registered(api, provider, username);
  // all four: the DSA key too, which no private key here vouches for (pinned when first kept)
  const differ = FINGERPRINT_KEYS.filter((p) => kept.fingerprints[p] !== server.fingerprints[p]);
  if (differ.length) throw mismatch(username, differ);
  return { ...kept.keys, publicKeys: server.publicKeys, former: await formerKeys(username) };
}

/** The encryption keys of the key sets set aside, newest first (what was wrapped for them opens). */
async function formerKeys(username: string): Promise<FormerKey[]> {
  return ((await idbGet<Kept[]>(asideKey(username))) ?? []).map((set) => ({
    key: set.keys.encryption,
    replacedAt: set.replacedAt ?? 0,
  }));
}

/**
 * After a key change the server accepted: the key set kept for this user until now goes aside
 * (still used to open what was wrapped for it), and the new one, made in this page, is kept as a
 * picked key store is (non-extractable; the server's answer named exactly its fingerprints).
 * Answers the keys to use now, the set aside among their `former`.
 */
export async function keepNewKeys(
  username: string,
  pems: PemKeyPairSet,
  provider: SignatureProvider,
): Promise<UserKeys> {
  const keys = await importUserKeys(pems, provider);
  const fingerprints = await keyStoreFingerprints(pems);
  const old = await idbGet<Kept>(storeKey(username));
  if (old && !FINGERPRINT_KEYS.every((k) => old.fingerprints[k] === fingerprints[k]))
    await idbUpdate<Kept[]>(asideKey(username), (sets) => [
      { ...old, replacedAt: Date.now() },
      ...(sets ?? []),
    ]);
  await idbPut(storeKey(username), { keys, fingerprints } satisfies Kept);
  return { ...keys, former: await formerKeys(username) };
}

/** This user's keys here, the ones set aside by a key change too. */
export async function forgetKeys(username: string): Promise<void> {
  await idbDelete(storeKey(username));
  await idbDelete(asideKey(username));
}
