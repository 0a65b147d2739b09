import { createPrivateKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decryptionKeys,
  EnvelopeRefused,
  importEncryptionKey,
  importServerKey,
  openEnvelope,
  type UserKeys,
  unwrapWithAny,
} from '../../../src/client/index.js';
import { sealEnvelope, wrapKey } from '../../../src/crypto/envelope.js';
import { generatePemKeyPair } from '../../../src/crypto/keys.js';

// Accounts over time: a device that replaced its keys keeps the old private key aside, and what
// was wrapped for it (kept envelopes of earlier epochs) still opens; the current key comes first.
describe('the encryption keys a key change replaced', () => {
  it('open an envelope wrapped for them, after the current key; without them it is refused', async () => {
    const [server, old, current] = await Promise.all([
      generatePemKeyPair('rsa', { modulusLength: 2048 }),
      generatePemKeyPair('rsa', { modulusLength: 2048 }),
      generatePemKeyPair('rsa', { modulusLength: 2048 }),
    ]);
    const chatKey = randomBytes(32);
    const envelope = await sealEnvelope(createPrivateKey(server.privateKey), {
      chatId: '00000000-0000-4000-8000-000000000001',
      epoch: 1,
      recipient: 'alice',
      wrappedKey: wrapKey(old.publicKey, chatKey),
      issuedAt: '2026-12-07T21:04:05.123Z',
    });
    const serverKey = (await importServerKey(server.publicKey)).key;
    const [oldKey, currentKey] = await Promise.all([
      importEncryptionKey(old.privateKey),
      importEncryptionKey(current.privateKey),
    ]);
    const context = (encryptionKey: CryptoKey | CryptoKey[]) => ({
      highest: 1,
      username: 'alice',
      serverKey,
      encryptionKey,
    });
    const expected = { chatId: envelope.chatId, epoch: 1, past: true };
    await expect(openEnvelope(envelope, expected, context(currentKey))).rejects.toThrow(EnvelopeRefused);
    expect(Buffer.from(await openEnvelope(envelope, expected, context([currentKey, oldKey])))).toEqual(
      chatKey,
    );
    expect(Buffer.from(await unwrapWithAny([currentKey, oldKey], envelope.wrappedKey))).toEqual(chatKey);
    await expect(unwrapWithAny([currentKey], envelope.wrappedKey)).rejects.toThrow();
  });

  it('are offered only for an envelope issued before they were replaced: a newer one wrapped for a leaked key is refused', async () => {
    const [old, current] = await Promise.all(
      [1, 2].map(async () =>
        importEncryptionKey((await generatePemKeyPair('rsa', { modulusLength: 2048 })).privateKey),
      ),
    );
    const replacedAt = Date.parse('2026-12-07T22:00:00.000Z');
    const keys = { encryption: current, former: [{ key: old, replacedAt }] } as unknown as UserKeys;
    expect(decryptionKeys(keys, '2026-12-07T21:59:59.999Z')).toEqual([current, old]);
    expect(decryptionKeys(keys, '2026-12-07T22:00:00.000Z')).toEqual([current]);
    expect(decryptionKeys(keys, '2026-12-08T09:00:00.000Z')).toEqual([current]);
    // no time it can read: the current key alone
    expect(decryptionKeys(keys, 'yesterday')).toEqual([current]);
    expect(decryptionKeys(keys, undefined)).toEqual([current]);
  });
});
