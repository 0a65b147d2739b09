import { constants, createPrivateKey, createPublicKey, randomBytes, sign, webcrypto } from 'node:crypto';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { open, seal } from '../../../src/crypto/aead.js';
import { fromBase64, isBase64 } from '../../../src/crypto/base64.js';
import { envelopeSigningInput, messageAad, messageSigningInput } from '../../../src/crypto/canonical.js';
import {
  openEnvelope,
  sealEnvelope,
  unwrapKey,
  verifyEnvelope,
  wrapKey,
} from '../../../src/crypto/envelope.js';
import {
  checkPublicKey,
  fingerprint,
  generatePemKeyPair,
  SIGNATURE_ALGORITHMS,
} from '../../../src/crypto/keys.js';
import { readKeyStore } from '../../../src/crypto/keystore.js';
import { signAsync, verifyAsync } from '../../../src/crypto/signatures.js';
import { parseTimestamp } from '../../../src/crypto/time.js';

const store = () => readKeyStore(path.join(inject('fixtureKeys'), 'users', 'alice'));

describe('canonical strings', () => {
  it("are the protocol's lines, joined by one LF, with no trailing newline", () => {
    const h = { chatId: 'c', epoch: 3, sender: 'user2', id: 'i', sentAt: '2026-11-25T21:04:05.123Z' };
    expect(messageAad(h)).toBe('securechat/v1/msg\nc\n3\nuser2\ni\n2026-11-25T21:04:05.123Z');
    expect(messageSigningInput(h, { iv: 'IV', ciphertext: 'CT', tag: 'TG' }).toString()).toBe(
      'securechat/v1/msg\nc\n3\nuser2\ni\n2026-11-25T21:04:05.123Z\nIV\nCT\nTG',
    );
    const e = { chatId: 'c', epoch: 1, recipient: 'u', wrappedKey: 'W==', issuedAt: 't' };
    expect(envelopeSigningInput(e).toString()).toBe('securechat/v1/key\nc\n1\nu\nW==\nt');
  });
});

describe('base64 and time', () => {
  it('accepts only canonical padded standard base64', () => {
    for (const ok of ['', 'AA==', 'AAA=', 'AAAA', 'ab+/']) expect(fromBase64(ok), ok).toBeDefined();
    for (const bad of ['A', 'AA', 'AA=', 'A===', 'ab-_', 'AB==', 'AAB=', ' AAAA', 'AAAA\n']) {
      expect(fromBase64(bad), bad).toBeUndefined();
    }
    expect(isBase64('AB==')).toBe(true); // well-formed, though not canonical
  });

  it('parses only real RFC 3339 UTC millisecond times', () => {
    expect(parseTimestamp('2026-11-25T21:04:05.123Z')).toBe(Date.UTC(2026, 10, 25, 21, 4, 5, 123));
    for (const bad of [
      '2026-11-25T21:04:05Z',
      '2026-11-25T21:04:05.123+00:00',
      '2026-02-30T00:00:00.000Z',
      '2026-11-25 21:04:05.123Z',
    ]) {
      expect(parseTimestamp(bad), bad).toBeUndefined();
    }
  });
});

describe('key envelopes', () => {
  it('wrap with RSA-OAEP-SHA256 and MGF1-SHA256, as WebCrypto reads them', async () => {
    const keys = await store();
    const chatKey = randomBytes(32);
    const wrapped = wrapKey(createPublicKey(keys.encryption.publicKey), chatKey);
    // WebCrypto's RSA-OAEP with SHA-256 is OAEP-SHA256 with MGF1-SHA256 and an empty label.
    const der = createPrivateKey(keys.encryption.privateKey).export({ type: 'pkcs8', format: 'der' });
    const key = await webcrypto.subtle.importKey('pkcs8', der, { name: 'RSA-OAEP', hash: 'SHA-256' }, false, [
      'decrypt',
    ]);
    const raw = await webcrypto.subtle.decrypt({ name: 'RSA-OAEP' }, key, Buffer.from(wrapped, 'base64'));
    expect(Buffer.from(raw)).toEqual(chatKey);
    expect(unwrapKey(keys.encryption.privateKey, wrapped)).toEqual(chatKey);
  });

  it('are signed RSA-PSS SHA-256 salt 32, verified before unwrapping, and refused when altered', async () => {
    const server = await generatePemKeyPair('rsa', { modulusLength: 2048 });
    const keys = await store();
    const chatKey = randomBytes(32);
    const envelope = await sealEnvelope(createPrivateKey(server.privateKey), {
      chatId: 'c1',
      epoch: 2,
      recipient: 'alice',
      wrappedKey: wrapKey(keys.encryption.publicKey, chatKey),
      issuedAt: '2026-11-25T21:04:05.123Z',
    });
    // an independent check with the exact parameters of the protocol
    const ok = await webcrypto.subtle.verify(
      { name: 'RSA-PSS', saltLength: 32 },
      await webcrypto.subtle.importKey(
        'spki',
        createPublicKey(server.publicKey).export({ type: 'spki', format: 'der' }),
        { name: 'RSA-PSS', hash: 'SHA-256' },
        false,
        ['verify'],
      ),
      Buffer.from(envelope.serverSignature, 'base64'),
      envelopeSigningInput(envelope),
    );
    expect(ok).toBe(true);
    expect(await openEnvelope(server.publicKey, keys.encryption.privateKey, envelope)).toEqual(chatKey);
    for (const altered of [
      { epoch: 3 },
      { recipient: 'bob' },
      { chatId: 'c2' },
      { issuedAt: '2026-11-25T21:04:05.124Z' },
    ]) {
      expect(await verifyEnvelope(server.publicKey, { ...envelope, ...altered })).toBe(false);
    }
    const other = await generatePemKeyPair('rsa', { modulusLength: 2048 });
    await expect(openEnvelope(other.publicKey, keys.encryption.privateKey, envelope)).rejects.toThrow(
      /signature/,
    );
  });
});

describe('signatures', () => {
  it('sign and verify with each scheme, and fail on any change', async () => {
    const keys = await store();
    const data = Buffer.from('securechat/v1/msg\nx');
    for (const alg of SIGNATURE_ALGORITHMS) {
      const signature = await signAsync(alg, keys.signing[alg].privateKey, data);
      expect(await verifyAsync(alg, keys.signing[alg].publicKey, data, signature), alg).toBe(true);
      expect(await verifyAsync(alg, keys.signing[alg].publicKey, Buffer.from('other'), signature)).toBe(
        false,
      );
      expect(await verifyAsync(alg, keys.signing[alg].publicKey, data, Buffer.from('junk'))).toBe(false);
    }
    expect((await signAsync('ed25519', keys.signing.ed25519.privateKey, data)).length).toBe(64);
  });

  it('pins RSA-PSS to salt length 32: another salt length does not verify', async () => {
    const keys = await store();
    const data = Buffer.from('x');
    const other = sign('sha256', data, {
      key: keys.signing['rsa-pss-sha256'].privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 20,
    });
    expect(await verifyAsync('rsa-pss-sha256', keys.signing['rsa-pss-sha256'].publicKey, data, other)).toBe(
      false,
    );
    // and PKCS#1 v1.5 is not PSS
    const v15 = sign('sha256', data, keys.signing['rsa-pss-sha256'].privateKey);
    expect(await verifyAsync('rsa-pss-sha256', keys.signing['rsa-pss-sha256'].publicKey, data, v15)).toBe(
      false,
    );
  });

  it('DSA signatures are DER Dss-Sig-Value', async () => {
    const keys = await store();
    const signature = await signAsync('dsa-sha256', keys.signing['dsa-sha256'].privateKey, Buffer.from('x'));
    expect(signature[0]).toBe(0x30); // SEQUENCE
    const p1363 = sign('sha256', Buffer.from('x'), {
      key: keys.signing['dsa-sha256'].privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    expect(
      await verifyAsync('dsa-sha256', keys.signing['dsa-sha256'].publicKey, Buffer.from('x'), p1363),
    ).toBe(false);
  });
});

describe('AES-256-GCM', () => {
  it('binds the AAD and refuses any change', () => {
    const key = randomBytes(32);
    const parts = seal(key, Buffer.from('hi'), 'aad');
    expect(Buffer.from(parts.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(parts.tag, 'base64')).toHaveLength(16);
    expect(open(key, parts, 'aad').toString()).toBe('hi');
    expect(() => open(key, parts, 'other aad')).toThrow();
    expect(() => open(randomBytes(32), parts, 'aad')).toThrow();
    expect(seal(key, Buffer.from('hi'), 'aad').iv).not.toBe(parts.iv);
  });
});

describe('public keys', () => {
  it('are checked for kind and strength, and fingerprinted as SHA-256 of the SPKI DER', async () => {
    const keys = await store();
    expect(() => checkPublicKey(keys.signing.ed25519.publicKey, 'encryption')).toThrow(/RSA/);
    expect(() => checkPublicKey(keys.encryption.publicKey, 'dsa-sha256')).toThrow(/DSA/);
    expect(() => checkPublicKey('not a key', 'ed25519')).toThrow(/PEM/);
    const small = await generatePemKeyPair('rsa', { modulusLength: 1024 });
    expect(() => checkPublicKey(small.publicKey, 'rsa-pss-sha256')).toThrow(/2048/);
    expect(fingerprint(keys.encryption.publicKey)).toMatch(/^[0-9a-f]{64}$/);
  });
});
