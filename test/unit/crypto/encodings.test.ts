import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { open, seal } from '../../../src/crypto/aead.js';
import { fromBase64, isBase64, toBase64 } from '../../../src/crypto/base64.js';
import { messageAad } from '../../../src/crypto/canonical.js';
import { sealEnvelope, verifyEnvelope } from '../../../src/crypto/envelope.js';
import { generatePemKeyPair } from '../../../src/crypto/keys.js';

describe('encodings round-trip for arbitrary valid values', () => {
  it('base64: bytes survive, and only canonical text decodes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(fromBase64(toBase64(bytes))).toEqual(Buffer.from(bytes));
      }),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        const bytes = fromBase64(text);
        if (bytes) expect(toBase64(bytes)).toBe(text);
      }),
    );
  });

  it("base64: what decodes is exactly what the protocol's grammar takes, in its canonical form", () => {
    // text near base64: its alphabet, the URL one, padding anywhere, spaces and line breaks
    const nearBase64 = fc
      .array(fc.constantFrom(...'AQgw+/=-_ \n'.split(''), 'A', 'B', 'z', '9'), { maxLength: 24 })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(fc.oneof(nearBase64, fc.string()), (text) => {
        const canonical = isBase64(text) && Buffer.from(text, 'base64').toString('base64') === text;
        expect(fromBase64(text) !== undefined).toBe(canonical);
      }),
      { numRuns: 20_000 },
    );
    for (const text of ['AB==', 'AAA', 'AA=A', 'A===', '-_8=', 'AA==AA==', ' AA=='])
      expect(fromBase64(text)).toBeUndefined();
    expect(fromBase64('')).toEqual(Buffer.alloc(0));
  });

  const header = fc.record({
    chatId: fc.uuid({ version: 4 }),
    epoch: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    sender: fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,31}$/),
    id: fc.uuid({ version: 4 }),
    sentAt: fc
      .date({ min: new Date(0), max: new Date(8.64e15), noInvalidDate: true })
      .map((d) => d.toISOString()),
  });

  it('the AAD splits back into its fields, and AES-GCM opens what it sealed', () => {
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 300 }), (h, plaintext) => {
        const aad = messageAad(h);
        expect(aad.split('\n')).toEqual([
          'securechat/v1/msg',
          h.chatId,
          String(h.epoch),
          h.sender,
          h.id,
          h.sentAt,
        ]);
        const key = randomBytes(32);
        expect(open(key, seal(key, Buffer.from(plaintext), aad), aad)).toEqual(Buffer.from(plaintext));
      }),
    );
  });

  it('envelopes verify for any valid fields, and not once any field changes', async () => {
    const pair = await generatePemKeyPair('rsa', { modulusLength: 2048 });
    const priv = createPrivateKey(pair.privateKey);
    const pub = createPublicKey(pair.publicKey);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          chatId: fc.uuid({ version: 4 }),
          epoch: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          recipient: fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,31}$/),
          wrappedKey: fc.uint8Array({ minLength: 1, maxLength: 512 }).map(toBase64),
          issuedAt: fc
            .date({ min: new Date(0), max: new Date(8.64e15), noInvalidDate: true })
            .map((d) => d.toISOString()),
        }),
        async (fields) => {
          const envelope = await sealEnvelope(priv, fields);
          expect(await verifyEnvelope(pub, envelope)).toBe(true);
          expect(await verifyEnvelope(pub, { ...envelope, epoch: envelope.epoch + 1 })).toBe(false);
        },
      ),
      { numRuns: 40 },
    );
  });
});
