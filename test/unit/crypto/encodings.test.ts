import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { open, seal } from '../../../src/crypto/aead.js';
import { fromBase64, toBase64 } from '../../../src/crypto/base64.js';
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
