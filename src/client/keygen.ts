/**
 * A user's own key store, made on their own device (protocol.md, "Keys"): RSA-OAEP-3072,
 * RSA-PSS-3072 and Ed25519 on WebCrypto; DSA-2048/256 from a provider, since no browser has DSA
 * (node:crypto in ./node/, BigInt generation in ./dsa-keygen.ts for a page).
 */
import { type Bytes, pemToDer, toBase64 } from './bytes.js';
import { ClientError } from './errors.js';
import { type Fingerprints, fingerprint, type PemKeyPairSet, type SignatureAlgorithm } from './keys.js';

export interface PemKeyPair {
  privateKey: string;
  publicKey: string;
}

/** Makes one DSA key pair with L = 2048, N = 256, as PKCS#8 and SPKI PEM. */
export type DsaKeyGenerator = () => Promise<PemKeyPair>;

export interface KeyGenOptions {
  dsa: DsaKeyGenerator;
  /** Modulus of both RSA keys: the protocol's 3072; tests may pass 2048 (the least registration takes). */
  rsaBits?: number;
}

/** PEM with 64-character lines, as OpenSSL writes it. */
export function derToPem(der: Bytes, label: string): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

const F4 = new Uint8Array([1, 0, 1]);

async function webCryptoPair(
  algorithm: RsaHashedKeyGenParams | Algorithm,
  usages: KeyUsage[],
): Promise<PemKeyPair> {
  const subtle = globalThis.crypto.subtle;
  // extractable: the private halves are written to the key store (or offered for download)
  const pair = (await subtle.generateKey(algorithm, true, usages)) as CryptoKeyPair;
  const [pkcs8, spki] = await Promise.all([
    subtle.exportKey('pkcs8', pair.privateKey),
    subtle.exportKey('spki', pair.publicKey),
  ]);
  return {
    privateKey: derToPem(new Uint8Array(pkcs8), 'PRIVATE KEY'),
    publicKey: derToPem(new Uint8Array(spki), 'PUBLIC KEY'),
  };
}

/** The four key pairs of a new key store, generated at once. */
export async function generateKeyStore({ dsa, rsaBits = 3072 }: KeyGenOptions): Promise<PemKeyPairSet> {
  const rsa = (name: 'RSA-OAEP' | 'RSA-PSS') => ({
    name,
    modulusLength: rsaBits,
    publicExponent: F4,
    hash: 'SHA-256',
  });
  const [encryption, rsaPss, dsaPair, ed25519] = await Promise.all([
    webCryptoPair(rsa('RSA-OAEP'), ['encrypt', 'decrypt']),
    webCryptoPair(rsa('RSA-PSS'), ['sign', 'verify']),
    dsa(),
    webCryptoPair({ name: 'Ed25519' }, ['sign', 'verify']),
  ]);
  return { encryption, signing: { 'rsa-pss-sha256': rsaPss, 'dsa-sha256': dsaPair, ed25519 } };
}

/** File names in a key store folder, fixed by protocol.md. */
const FILE_STEM: Record<'encryption' | SignatureAlgorithm, string> = {
  encryption: 'encryption',
  'rsa-pss-sha256': 'signing-rsa',
  'dsa-sha256': 'signing-dsa',
  ed25519: 'signing-ed25519',
};

export interface KeyStoreFile {
  name: string;
  content: string;
  /** Private keys are for their owner's eyes only (mode 0600 on disk). */
  private: boolean;
}

/** The eight files of a key store (or only the four public ones), for a download or a folder. */
export function keyStoreFiles(pairs: PemKeyPairSet, only: 'all' | 'public' = 'all'): KeyStoreFile[] {
  const entries: ['encryption' | SignatureAlgorithm, PemKeyPair][] = [
    ['encryption', pairs.encryption],
    ...(Object.entries(pairs.signing) as [SignatureAlgorithm, PemKeyPair][]),
  ];
  return entries.flatMap(([purpose, pair]) => [
    ...(only === 'all'
      ? [{ name: `${FILE_STEM[purpose]}.key.pem`, content: pair.privateKey, private: true }]
      : []),
    { name: `${FILE_STEM[purpose]}.pub.pem`, content: pair.publicKey, private: false },
  ]);
}

/** The fingerprints the server will answer for these keys (SHA-256 of each SPKI DER). */
export async function keyStoreFingerprints(pairs: PemKeyPairSet): Promise<Fingerprints> {
  const of = (pem: string) => {
    const der = pemToDer(pem, 'PUBLIC KEY');
    if (!der) throw new ClientError('a public key of the key store is not PEM');
    return fingerprint(der);
  };
  const [encryption, rsa, dsa, ed] = await Promise.all([
    of(pairs.encryption.publicKey),
    of(pairs.signing['rsa-pss-sha256'].publicKey),
    of(pairs.signing['dsa-sha256'].publicKey),
    of(pairs.signing.ed25519.publicKey),
  ]);
  return { encryption, 'rsa-pss-sha256': rsa, 'dsa-sha256': dsa, ed25519: ed };
}
