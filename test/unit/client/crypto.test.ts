import { constants, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import {
  checkPublicKey,
  composeMessage,
  fingerprint,
  fromBase64,
  importChatKey,
  importEncryptionKey,
  importPrivatePem,
  importPublicPem,
  importServerKey,
  KeyCheckError,
  messageAad,
  open,
  pemToDer,
  SIGNATURE_ALGORITHMS,
  seal,
  toBase64,
  unwrapChatKeyBytes,
  utf8,
  verifyEnvelopeSignature,
  webCryptoSignatures,
} from '../../../src/client/index.js';
import { nodeSignatures } from '../../../src/client/node/index.js';
import { open as nodeOpen, seal as nodeSeal } from '../../../src/crypto/aead.js';
import { sealEnvelope, wrapKey } from '../../../src/crypto/envelope.js';
import {
  dsaPublicKeyValues,
  generatePemKeyPair,
  fingerprint as nodeFingerprint,
} from '../../../src/crypto/keys.js';
import { readKeyStore } from '../../../src/crypto/keystore.js';
import { signSync, verifyAsync } from '../../../src/crypto/signatures.js';

const store = () => readKeyStore(path.join(inject('fixtureKeys'), 'users', 'alice'));
const provider = nodeSignatures();
const data = utf8('securechat/v1/msg\nc\n1\nalice\ni\nt\nIV\nCT\nTG');

describe('client library crypto against node:crypto', () => {
  it('signatures made on WebCrypto (and DSA on the Node provider) verify with node:crypto, and back', async () => {
    const keys = await store();
    for (const alg of SIGNATURE_ALGORITHMS) {
      const mine = await provider.sign(
        alg,
        await importPrivatePem(provider, alg, keys.signing[alg].privateKey),
        data,
      );
      expect(
        await verifyAsync(alg, keys.signing[alg].publicKey, Buffer.from(data), Buffer.from(mine)),
        alg,
      ).toBe(true);
      const theirs = signSync(alg, keys.signing[alg].privateKey, Buffer.from(data));
      const pub = await importPublicPem(provider, alg, keys.signing[alg].publicKey);
      expect(await provider.verify(alg, pub, data, new Uint8Array(theirs)), alg).toBe(true);
      const tampered = new Uint8Array(theirs);
      tampered[tampered.length - 1] ^= 1;
      expect(await provider.verify(alg, pub, data, tampered), alg).toBe(false);
      expect(await provider.verify(alg, pub, utf8('other'), new Uint8Array(theirs)), alg).toBe(false);
    }
  });

  it('RSA-PSS is pinned to salt length 32: another salt length does not verify', async () => {
    const keys = await store();
    const other = sign('sha256', data, {
      key: createPrivateKey(keys.signing['rsa-pss-sha256'].privateKey),
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 20,
    });
    const pub = await importPublicPem(provider, 'rsa-pss-sha256', keys.signing['rsa-pss-sha256'].publicKey);
    expect(await provider.verify('rsa-pss-sha256', pub, data, new Uint8Array(other))).toBe(false);
  });

  it('without a DSA provider (a browser), DSA is refused, never silently accepted', async () => {
    const keys = await store();
    const web = webCryptoSignatures();
    await expect(importPublicPem(web, 'dsa-sha256', keys.signing['dsa-sha256'].publicKey)).rejects.toThrow(
      /dsa-sha256 signatures are not available/,
    );
  });

  it('AES-256-GCM on WebCrypto opens what node:crypto sealed, and back; any change fails', async () => {
    const raw = new Uint8Array(32).fill(7);
    const key = await importChatKey(raw);
    const aad = messageAad({ chatId: 'c', epoch: 1, sender: 'a', id: 'i', sentAt: 't' });
    const mine = await seal(key, utf8('hello'), aad);
    expect(nodeOpen(Buffer.from(raw), mine, aad).toString()).toBe('hello');
    const theirs = nodeSeal(Buffer.from(raw), Buffer.from('there'), aad);
    expect(new TextDecoder().decode(await open(key, theirs, aad))).toBe('there');
    await expect(open(key, theirs, `${aad}x`)).rejects.toThrow();
    const tag = fromBase64(theirs.tag) as Uint8Array<ArrayBuffer>;
    tag[0] ^= 1;
    await expect(open(key, { ...theirs, tag: toBase64(tag) }, aad)).rejects.toThrow();
    await expect(open(key, { ...theirs, iv: 'AAAA' }, aad)).rejects.toThrow(/malformed/);
  });

  it('RSA-OAEP-SHA256 unwraps what the server wrapped, and the server signature verifies on WebCrypto', async () => {
    const keys = await store();
    const server = await generatePemKeyPair('rsa', { modulusLength: 2048 });
    const chatKey = Buffer.alloc(32, 9);
    const envelope = await sealEnvelope(server.privateKey, {
      chatId: 'c',
      epoch: 2,
      recipient: 'alice',
      wrappedKey: wrapKey(keys.encryption.publicKey, chatKey),
      issuedAt: '2026-11-25T21:04:05.123Z',
    });
    const serverKey = (await importServerKey(server.publicKey)).key;
    expect(await verifyEnvelopeSignature(serverKey, envelope)).toBe(true);
    expect(await verifyEnvelopeSignature(serverKey, { ...envelope, epoch: 3 })).toBe(false);
    const unwrapped = await unwrapChatKeyBytes(
      await importEncryptionKey(keys.encryption.privateKey),
      envelope.wrappedKey,
    );
    expect(Buffer.from(unwrapped)).toEqual(chatKey);
  });

  it('a message composed by the library verifies and opens with node:crypto', async () => {
    const keys = await store();
    const raw = new Uint8Array(32).fill(3);
    for (const alg of SIGNATURE_ALGORITHMS) {
      const body = await composeMessage(provider, {
        chatId: 'c',
        epoch: 1,
        sender: 'alice',
        key: await importChatKey(raw),
        text: 'hi',
        alg,
        signingKey: await importPrivatePem(provider, alg, keys.signing[alg].privateKey),
      });
      const header = { chatId: 'c', epoch: 1, sender: 'alice', id: body.id, sentAt: body.sentAt };
      const signed = Buffer.from(`${messageAad(header)}\n${body.iv}\n${body.ciphertext}\n${body.tag}`);
      expect(
        await verifyAsync(alg, keys.signing[alg].publicKey, signed, Buffer.from(body.signature, 'base64')),
        alg,
      ).toBe(true);
      expect(nodeOpen(Buffer.from(raw), body, messageAad(header)).toString()).toBe('hi');
    }
  });
});

describe('public-key checks, as registration makes them', () => {
  it('accepts the key store and computes the fingerprints node:crypto computes', async () => {
    const keys = await store();
    expect(await fingerprint(checkPublicKey(keys.encryption.publicKey, 'encryption'))).toBe(
      nodeFingerprint(keys.encryption.publicKey),
    );
    for (const alg of SIGNATURE_ALGORITHMS)
      expect(await fingerprint(checkPublicKey(keys.signing[alg].publicKey, alg)), alg).toBe(
        nodeFingerprint(keys.signing[alg].publicKey),
      );
  });

  it('refuses weak RSA, another exponent, the wrong kind, and DSA with bad domain parameters', async () => {
    const keys = await store();
    const pem = (k: ReturnType<typeof createPublicKey>) =>
      k.export({ type: 'spki', format: 'pem' }) as string;
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(() => checkPublicKey(pem(weak), 'encryption')).toThrow(/at least 2048 bits/);
    const e3 = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey;
    expect(() => checkPublicKey(pem(e3), 'rsa-pss-sha256')).toThrow(/public exponent 65537/);
    expect(() => checkPublicKey(keys.signing.ed25519.publicKey, 'dsa-sha256')).toThrow(KeyCheckError);
    expect(() => checkPublicKey(keys.encryption.publicKey, 'ed25519')).toThrow(/must be Ed25519/);
    expect(() => checkPublicKey('not a key', 'ed25519')).toThrow(/not a PEM public key/);
    // g = 1 would make r = 1 verify for every message: rebuild the DSA key with g replaced
    const der = pemToDer(keys.signing['dsa-sha256'].publicKey, 'PUBLIC KEY') as Uint8Array;
    const spki = createPublicKey(keys.signing['dsa-sha256'].publicKey).export({
      format: 'der',
      type: 'spki',
    });
    expect(Buffer.from(der)).toEqual(spki);
    expect(() =>
      checkPublicKey(pemOf(withDsaGenerator(Buffer.from(der), readDsa(spki).g)), 'dsa-sha256'),
    ).not.toThrow();
    expect(() => checkPublicKey(pemOf(withDsaGenerator(Buffer.from(der), 1n)), 'dsa-sha256')).toThrow(
      /generator g of order q/,
    );
    const { p } = readDsa(spki);
    expect(() => checkPublicKey(pemOf(withDsaGenerator(Buffer.from(der), p - 1n)), 'dsa-sha256')).toThrow(
      /generator g of order q/,
    );
  });
});

const pemOf = (der: Buffer) =>
  `-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`;

/** The SPKI of a DSA key with g replaced (lengths fixed up); for the domain-parameter check. */
function withDsaGenerator(spki: Buffer, g: bigint): Buffer {
  const { p, q, y } = readDsa(spki);
  const int = (v: bigint) => {
    let hex = v.toString(16);
    if (hex.length % 2) hex = `0${hex}`;
    let bytes = Buffer.from(hex, 'hex');
    if (bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return tlv(0x02, bytes);
  };
  const params = tlv(0x30, Buffer.concat([int(p), int(q), int(g)]));
  const oid = Buffer.from('06072a8648ce380401', 'hex');
  const algorithm = tlv(0x30, Buffer.concat([oid, params]));
  const key = tlv(0x03, Buffer.concat([Buffer.from([0]), int(y)]));
  return tlv(0x30, Buffer.concat([algorithm, key]));
}

function tlv(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

function readDsa(spki: Buffer) {
  return dsaPublicKeyValues(spki);
}
