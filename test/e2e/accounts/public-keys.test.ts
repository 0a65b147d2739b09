import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { cp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  checkPublicKey,
  checkPublicKeySet,
  dsaPublicKeyValues,
  type PublicKeySet,
} from '../../../src/crypto/keys.js';
import { readKeyStore, readPublicKeys } from '../../../src/crypto/keystore.js';
import { backendEnv } from '../../support/backend.js';
import { dsaPem } from '../../support/forge-keys.js';
import { PASSWORD, startServer, type TestServer, tempDir } from '../../support/helper.js';

const randomBits = (bits: number) =>
  BigInt(`0x${randomBytes(bits / 8).toString('hex')}`) | (1n << BigInt(bits - 1)) | 1n;
const rsaPem = (bits: number, e: number, n = randomBits(bits)) =>
  createPublicKey({
    key: {
      kty: 'RSA',
      n: Buffer.from(n.toString(16), 'hex').toString('base64url'),
      e: Buffer.from(e.toString(16).padStart(6, '0'), 'hex').toString('base64url'),
    },
    format: 'jwk',
  }).export({ type: 'spki', format: 'pem' }) as string;

const pssPem = ({
  saltLength,
  ...hashes
}: {
  hashAlgorithm?: string;
  mgf1HashAlgorithm?: string;
  saltLength?: number;
}) =>
  generateKeyPairSync('rsa-pss', {
    modulusLength: 2048,
    ...hashes,
    // @types/node declares saltLength a string; node takes (and needs) a number
    ...(saltLength !== undefined && { saltLength: saltLength as unknown as string }),
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  }).publicKey;

let server: TestServer;
let good: PublicKeySet;
let privateEncryption: string;
let dsa: { p: bigint; q: bigint; g: bigint; y: bigint };
beforeAll(async () => {
  server = await startServer();
  good = await readPublicKeys(path.join(inject('fixtureKeys'), 'users', 'alice'));
  privateEncryption = (await readKeyStore(path.join(inject('fixtureKeys'), 'users', 'alice'))).encryption
    .privateKey;
  dsa = dsaPublicKeyValues(
    createPublicKey(good.signing['dsa-sha256']).export({ type: 'spki', format: 'der' }),
  );
});
afterAll(() => server.close());

describe('public keys at registration (issue 10, finding 12)', () => {
  it('round-trips a real DSA key through the forger, and accepts it', async () => {
    expect(dsaPem(dsa)).toBe(good.signing['dsa-sha256']);
    await expect(checkPublicKeySet(good)).resolves.toEqual(good);
  });

  const cases: [string, () => Partial<PublicKeySet['signing']> & { encryption?: string }, RegExp][] = [
    ['DSA with g = 1', () => ({ 'dsa-sha256': dsaPem({ ...dsa, g: 1n }) }), /generator/],
    ['DSA with g = p', () => ({ 'dsa-sha256': dsaPem({ ...dsa, g: dsa.p }) }), /generator/],
    ['DSA with g not of order q', () => ({ 'dsa-sha256': dsaPem({ ...dsa, g: 2n }) }), /generator/],
    ['DSA with y = 1', () => ({ 'dsa-sha256': dsaPem({ ...dsa, y: 1n }) }), /public value/],
    ['DSA with y outside the subgroup', () => ({ 'dsa-sha256': dsaPem({ ...dsa, y: 3n }) }), /public value/],
    ['DSA with N = 224', () => ({ 'dsa-sha256': dsaPem({ ...dsa, q: randomBits(224) }) }), /N = 256/],
    ['DSA with L = 3072', () => ({ 'dsa-sha256': dsaPem({ ...dsa, p: randomBits(3072) }) }), /L = 2048/],
    // g = -1 has order 2, so an even q passes g^q = 1: only the primality test catches it
    [
      'DSA with a composite q',
      () => ({
        'dsa-sha256': dsaPem({ p: dsa.p, q: randomBits(256) + 1n, g: dsa.p - 1n, y: dsa.p - 1n }),
      }),
      /prime/,
    ],
    ['RSA-1024 for encryption', () => ({ encryption: rsaPem(1024, 65537) }), /2048-8192 bits/],
    ['RSA over 8192 bits', () => ({ 'rsa-pss-sha256': rsaPem(8200, 65537) }), /2048-8192 bits/],
    [
      'RSA with an even modulus for encryption',
      () => ({ encryption: rsaPem(2048, 65537, randomBits(2048) ^ 1n) }),
      /odd modulus/,
    ],
    [
      'RSA with an even modulus for signing',
      () => ({ 'rsa-pss-sha256': rsaPem(2048, 65537, randomBits(2048) ^ 1n) }),
      /odd modulus/,
    ],
    [
      'an RSA-PSS key restricted to SHA-512 as the rsa-pss key',
      () => ({
        'rsa-pss-sha256': pssPem({ hashAlgorithm: 'sha512', mgf1HashAlgorithm: 'sha512', saltLength: 64 }),
      }),
      /salt length 32/,
    ],
    [
      'an RSA-PSS key restricted to salt length 20 as the rsa-pss key',
      () => ({
        'rsa-pss-sha256': pssPem({ hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256', saltLength: 20 }),
      }),
      /salt length 32/,
    ],
    ['an RSA-PSS key as the encryption key', () => ({ encryption: pssPem({}) }), /RSA of/],
    ['a PRIVATE KEY PEM', () => ({ encryption: privateEncryption }), /one BEGIN PUBLIC KEY block/],
    [
      'text before the key',
      () => ({ ed25519: `anything at all here\n${good.signing.ed25519}` }),
      /one BEGIN PUBLIC KEY block/,
    ],
    [
      'a second PEM block after the key',
      () => ({
        ed25519: `${good.signing.ed25519}-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n`,
      }),
      /one BEGIN PUBLIC KEY block/,
    ],
    [
      'bytes after the key',
      () => ({ ed25519: `${good.signing.ed25519}trailing` }),
      /one BEGIN PUBLIC KEY block/,
    ],
    ['RSA with e = 3', () => ({ encryption: rsaPem(2048, 3) }), /65537/],
    ['RSA with e = 3 for signing', () => ({ 'rsa-pss-sha256': rsaPem(2048, 3) }), /65537/],
    [
      'a PEM that is not a key',
      () => ({ ed25519: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n' }),
      /not a PEM public key/,
    ],
    ['a certificate-shaped text', () => ({ encryption: 'hello' }), /not a PEM public key/],
  ];

  it.each(cases)('refuses %s, and registers nothing', async (_name, bad, message) => {
    const { encryption, ...signing } = bad();
    const keys: PublicKeySet = {
      encryption: encryption ?? good.encryption,
      signing: { ...good.signing, ...signing },
    };
    const username = `k${randomBytes(4).toString('hex')}`;
    await expect(server.app.accounts.register(username, PASSWORD, keys)).rejects.toThrow(message);
    expect(await server.app.store.getUser(username)).toBeUndefined();
    const login = await fetch(`${server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    expect(login.status).toBe(401);
  });

  it('stores and serves the canonical SPKI PEM, whose SHA-256 is the fingerprint served', async () => {
    const messy = (pem: string) => `\r\n  ${pem.trim().replaceAll('\n', '\r\n')}\r\n\n`;
    const keys: PublicKeySet = {
      encryption: messy(good.encryption),
      signing: {
        'rsa-pss-sha256': messy(good.signing['rsa-pss-sha256']),
        'dsa-sha256': messy(good.signing['dsa-sha256']),
        ed25519: messy(good.signing.ed25519),
      },
    };
    await server.app.accounts.register('messy', PASSWORD, keys);
    expect((await server.app.store.getUser('messy'))?.keys).toEqual(good);
    const served = await server.app.accounts.publicKeys('messy');
    expect(served.encryptionKey).toBe(good.encryption);
    const spki = (pem: string) => createPublicKey(pem).export({ type: 'spki', format: 'der' });
    expect(createHash('sha256').update(spki(served.encryptionKey)).digest('hex')).toBe(
      served.fingerprints.encryption,
    );
  });

  it('keeps the synchronous check for kind and sizes', () => {
    expect(() => checkPublicKey(dsaPem({ ...dsa, g: 1n }), 'dsa-sha256')).toThrow(/generator/);
    expect(() => checkPublicKey(good.encryption, 'dsa-sha256')).toThrow(/DSA/);
  });

  it('npm run user:add refuses a key store whose DSA key has g = 1', async () => {
    const root = await tempDir();
    try {
      const dir = path.join(root, 'mallory');
      await cp(path.join(inject('fixtureKeys'), 'users', 'alice'), dir, { recursive: true });
      await writeFile(path.join(dir, 'signing-dsa.pub.pem'), dsaPem({ ...dsa, g: 1n }));
      const env = {
        ...process.env,
        ...(await backendEnv(root)),
        SECURECHAT_DATA_DIR: path.join(root, 'data'),
      };
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(
          path.resolve('node_modules/.bin/tsx'),
          [path.resolve('src/admin/user-add.ts'), 'mallory', '--password-stdin', '--public-keys', dir],
          { env: { ...env, SECURECHAT_KEYS_DIR: path.join(root, 'keys'), BCRYPT_COST: '4' } },
          (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }),
        );
        child.stdin?.end('a long enough secret\n');
      });
      expect(result.stderr).toMatch(/dsa-sha256 key must be DSA with a generator/);
      expect(result.code).toBe(1);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
