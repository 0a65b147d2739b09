import { importEncryptionKey } from './envelope.js';
import { type PemKeyPairSet, SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from './keys.js';
import { importPrivatePem, type KeyHandle, type SignatureProvider } from './signatures.js';

/** A user's own keys, imported: the private ones non-extractable, the public ones as PEM. */
export interface UserKeys {
  encryption: CryptoKey;
  /** The schemes this client can sign with (a browser has no DSA signing). */
  signing: Partial<Record<SignatureAlgorithm, KeyHandle>>;
  publicKeys: { encryption: string; signing: Record<SignatureAlgorithm, string> };
  /** Encryption keys this user had before a key change, newest first: tried on what `encryption` cannot open. */
  former?: FormerKey[];
}

/**
 * An encryption key a key change replaced, and when this device replaced it (ms since the epoch):
 * it opens only envelopes issued before then. A newer one wrapped for it (a member whose copy of
 * the keys is stale, or a server that hid the change from them) is refused as any other, since
 * whoever leaked the old key could open it.
 */
export interface FormerKey {
  key: CryptoKey;
  replacedAt: number;
}

export async function importUserKeys(pems: PemKeyPairSet, provider: SignatureProvider): Promise<UserKeys> {
  const signing: UserKeys['signing'] = {};
  for (const alg of SIGNATURE_ALGORITHMS) {
    // a scheme the provider does not sign with (DSA in a browser) is left out
    if (provider.canSign?.(alg) === false) continue;
    signing[alg] = await importPrivatePem(provider, alg, pems.signing[alg].privateKey);
  }
  return {
    encryption: await importEncryptionKey(pems.encryption.privateKey),
    signing,
    publicKeys: {
      encryption: pems.encryption.publicKey,
      signing: Object.fromEntries(SIGNATURE_ALGORITHMS.map((a) => [a, pems.signing[a].publicKey])) as Record<
        SignatureAlgorithm,
        string
      >,
    },
  };
}
