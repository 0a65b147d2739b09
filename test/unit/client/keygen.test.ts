import { checkPrime, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  Api,
  ApiError,
  checkPublicKey,
  generateDsaKeyPair,
  generateKeyStore,
  isProbablePrime,
  keyStoreFiles,
  keyStoreFingerprints,
  register,
} from '../../../src/client/index.js';
import { nodeDsaKeyGenerator } from '../../../src/client/node/index.js';
import { checkPublicKeySet, dsaPublicKeyValues, fingerprint } from '../../../src/crypto/keys.js';

const prime = (n: bigint) =>
  new Promise<boolean>((resolve, reject) =>
    checkPrime(n, { checks: 64 }, (error, result) => (error ? reject(error) : resolve(result))),
  );

/** What OpenSSL makes of a PEM pair: the private key derives the public one, and signs what it verifies. */
function openSslChecks(pair: { privateKey: string; publicKey: string }, signAlg: string | null) {
  const priv = createPrivateKey(pair.privateKey);
  const pub = createPublicKey(pair.publicKey);
  expect(createPublicKey(priv).export({ type: 'spki', format: 'pem' })).toBe(pair.publicKey);
  const data = Buffer.from('securechat keygen');
  expect(verify(signAlg, data, pub, sign(signAlg, data, priv))).toBe(true);
  return pub;
}

describe('client-library key generation (WebCrypto + a DSA provider)', () => {
  it('makes the protocol key store: RSA-3072 OAEP and PSS with e = 65537, DSA-2048/256, Ed25519', async () => {
    const pairs = await generateKeyStore({ dsa: nodeDsaKeyGenerator });
    const enc = openSslChecks(pairs.encryption, 'sha256');
    expect(enc.asymmetricKeyType).toBe('rsa');
    expect(enc.asymmetricKeyDetails).toMatchObject({ modulusLength: 3072, publicExponent: 65537n });
    const pss = openSslChecks(pairs.signing['rsa-pss-sha256'], 'sha256');
    expect(pss.asymmetricKeyDetails).toMatchObject({ modulusLength: 3072, publicExponent: 65537n });
    const dsa = openSslChecks(pairs.signing['dsa-sha256'], 'sha256');
    expect(dsa.asymmetricKeyDetails).toEqual({ modulusLength: 2048, divisorLength: 256 });
    expect(openSslChecks(pairs.signing.ed25519, null).asymmetricKeyType).toBe('ed25519');

    // registration accepts it exactly as the server checks it, and the fingerprints agree
    const publics = {
      encryption: pairs.encryption.publicKey,
      signing: {
        'rsa-pss-sha256': pairs.signing['rsa-pss-sha256'].publicKey,
        'dsa-sha256': pairs.signing['dsa-sha256'].publicKey,
        ed25519: pairs.signing.ed25519.publicKey,
      },
    };
    await expect(checkPublicKeySet(publics)).resolves.toEqual(publics);
    const fingerprints = await keyStoreFingerprints(pairs);
    expect(fingerprints.encryption).toBe(fingerprint(pairs.encryption.publicKey));
    expect(fingerprints['dsa-sha256']).toBe(fingerprint(pairs.signing['dsa-sha256'].publicKey));

    const files = keyStoreFiles(pairs);
    expect(files.map((f) => f.name).sort()).toEqual(
      [
        'encryption.key.pem',
        'encryption.pub.pem',
        'signing-dsa.key.pem',
        'signing-dsa.pub.pem',
        'signing-ed25519.key.pem',
        'signing-ed25519.pub.pem',
        'signing-rsa.key.pem',
        'signing-rsa.pub.pem',
      ].sort(),
    );
    for (const f of files) expect(f.private).toBe(f.name.endsWith('.key.pem'));
    expect(keyStoreFiles(pairs, 'public').every((f) => !f.private && f.content.includes('PUBLIC KEY'))).toBe(
      true,
    );
  });

  it('makes a DSA key in BigInt (the browser provider) that OpenSSL and registration accept', async () => {
    const pair = await generateDsaKeyPair();
    const key = openSslChecks(pair, 'sha256');
    expect(key.asymmetricKeyDetails).toEqual({ modulusLength: 2048, divisorLength: 256 });
    const { p, q, g, y } = dsaPublicKeyValues(key.export({ type: 'spki', format: 'der' }));
    expect([await prime(p), await prime(q)]).toEqual([true, true]);
    expect((p - 1n) % q).toBe(0n);
    expect(g > 1n && y > 1n).toBe(true);
    // the server's domain checks (g of order q, y in the subgroup, prime p and q)
    expect(() => checkPublicKey(pair.publicKey, 'dsa-sha256')).not.toThrow();
  }, 180_000);

  it('tells primes from composites as OpenSSL does', async () => {
    const candidates = [
      2n,
      3n,
      561n,
      7919n,
      2n ** 127n - 1n,
      2n ** 127n + 1n,
      2n ** 255n - 19n,
      2n ** 256n - 1n,
      (2n ** 61n - 1n) * (2n ** 89n - 1n),
    ];
    for (const n of candidates) expect(isProbablePrime(n), String(n)).toBe(await prime(n));
    expect(isProbablePrime(1n)).toBe(false);
  });
});

describe('register() in the client library', () => {
  /** An Api whose server answers `status` with `body` (and records what it was sent). */
  const answering = (status: number, body: unknown) => {
    const sent: { url: string; body: unknown }[] = [];
    const api = new Api({
      server: 'http://127.0.0.1:1',
      fetch: async (url, init) => {
        sent.push({ url, body: JSON.parse(String(init.body)) });
        const type = status >= 400 ? 'application/problem+json' : 'application/json';
        return new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });
      },
    });
    return { api, sent };
  };

  it('sends only the public halves, and refuses an answer for other keys or another user', async () => {
    const keys = await generateKeyStore({ dsa: nodeDsaKeyGenerator, rsaBits: 2048 });
    const fingerprints = await keyStoreFingerprints(keys);
    const ok = answering(201, { username: 'ann', fingerprints });
    await expect(
      register(ok.api, { username: 'ann', password: 'pw pw pw pw', code: 'c', keys }),
    ).resolves.toEqual({
      username: 'ann',
      fingerprints,
    });
    expect(ok.sent[0].url).toBe('http://127.0.0.1:1/users');
    expect(JSON.stringify(ok.sent[0].body)).not.toContain('PRIVATE KEY');
    expect(ok.sent[0].body).toMatchObject({
      username: 'ann',
      code: 'c',
      encryptionKey: keys.encryption.publicKey,
    });

    const swapped = { ...fingerprints, ed25519: '0'.repeat(64) };
    for (const answer of [
      { username: 'ann', fingerprints: swapped },
      { username: 'bob', fingerprints },
      null,
    ]) {
      const { api } = answering(201, answer);
      await expect(
        register(api, { username: 'ann', password: 'pw pw pw pw', code: 'c', keys }),
      ).rejects.toThrow(/other keys or another user/);
    }
    const refused = answering(403, { status: 403, code: 'INVALID_CODE', detail: 'x', title: 'Forbidden' });
    await expect(
      register(refused.api, { username: 'ann', password: 'pw pw pw pw', code: 'c', keys }),
    ).rejects.toThrow(/registration refused: the code is wrong, used or expired/);
  });

  it("reads the server's error code as data: a code named like an Object property is no refusal of ours", async () => {
    const keys = await generateKeyStore({ dsa: nodeDsaKeyGenerator, rsaBits: 2048 });
    for (const code of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const { api } = answering(403, { status: 403, code, detail: 'odd', title: 'Forbidden' });
      const error = await register(api, { username: 'ann', password: 'pw pw pw pw', code: 'c', keys }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).code).toBe(code);
      expect(String(error)).not.toMatch(/registration refused|function|native code|\[object/);
    }
  });
});
