import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  browserSignatures,
  checkPublicKey,
  type DsaPublicKey,
  dsaVerify,
  importPrivatePem,
  importPublicPem,
  parseDsaSignature,
} from '../../../src/client/index.js';
import { keyStore } from '../../support/library.js';

let pair: { privateKey: string; publicKey: string };
let key: DsaPublicKey;
const provider = browserSignatures();

beforeAll(async () => {
  pair = (await keyStore('alice')).signing['dsa-sha256'];
  checkPublicKey(pair.publicKey, 'dsa-sha256');
  key = (await importPublicPem(provider, 'dsa-sha256', pair.publicKey)) as DsaPublicKey;
});

const nodeSign = (data: Uint8Array) =>
  new Uint8Array(sign('sha256', data, { key: createPrivateKey(pair.privateKey), dsaEncoding: 'der' }));
const nodeVerify = (data: Uint8Array, signature: Uint8Array) =>
  verify('sha256', data, { key: createPublicKey(pair.publicKey), dsaEncoding: 'der' }, signature);
const bytes = (n: number) => new Uint8Array(randomBytes(n));

describe('the BigInt DSA verifier (for browsers) against node:crypto', () => {
  it('accepts what OpenSSL signed, and refuses what OpenSSL refuses', async () => {
    for (let i = 0; i < 16; i++) {
      const data = bytes(i * 7);
      const signature = nodeSign(data);
      expect(await dsaVerify(key, data, signature)).toBe(true);
      expect(await provider.verify('dsa-sha256', key, data, signature)).toBe(true);
      const other = bytes(8);
      expect(await dsaVerify(key, other, signature)).toBe(nodeVerify(other, signature));
      const flipped = signature.slice();
      flipped[flipped.length - 1 - (i % 20)] ^= 1 << (i % 8);
      expect(await dsaVerify(key, data, flipped), `flip ${i}`).toBe(nodeVerify(data, flipped));
    }
  });

  it('refuses r or s out of range and non-canonical encodings, as OpenSSL does', async () => {
    const data = bytes(32);
    const signature = nodeSign(data);
    const { r, s } = parseDsaSignature(signature) as { r: bigint; s: bigint };
    const der = (a: bigint, b: bigint, pad = false) => {
      const int = (v: bigint) => {
        let hex = v.toString(16);
        if (hex.length % 2) hex = `0${hex}`;
        let body = Buffer.from(hex, 'hex');
        if (body[0] & 0x80) body = Buffer.concat([Buffer.from([0]), body]);
        // one zero more than the canonical encoding has (whether or not that one needs its own)
        if (pad) body = Buffer.concat([Buffer.from([0]), body]);
        return Buffer.concat([Buffer.from([2, body.length]), body]);
      };
      const body = Buffer.concat([int(a), int(b)]);
      return new Uint8Array(Buffer.concat([Buffer.from([0x30, body.length]), body]));
    };
    expect(await dsaVerify(key, data, der(r, s))).toBe(true);
    for (const [name, bad] of [
      ['r = 0', der(0n, s)],
      ['s = 0', der(r, 0n)],
      ['r + q', der(r + key.q, s)],
      ['s + q', der(r, s + key.q)],
      ['padded integer', der(r, s, true)],
      ['trailing byte', new Uint8Array([...der(r, s), 0])],
      ['empty', new Uint8Array()],
    ] as const) {
      expect(await dsaVerify(key, data, bad), name).toBe(false);
      expect(nodeVerify(data, bad), name).toBe(false);
    }
  });

  it('never signs with DSA in a browser', async () => {
    await expect(importPrivatePem(provider, 'dsa-sha256', pair.privateKey)).rejects.toThrow(
      /does not sign with DSA/,
    );
  });
});
