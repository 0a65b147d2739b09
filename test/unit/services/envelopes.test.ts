import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { sealEnvelope, verifyEnvelope } from '../../../src/crypto/envelope.js';
import { readKeyStore } from '../../../src/crypto/keystore.js';
import { createEnvelopeIssuer, signingSlots } from '../../../src/services/envelopes.js';

describe('the signing share (issue 15, item 8)', () => {
  it('keeps at most its share of envelope signatures on the thread pool, and every envelope verifies', async () => {
    const alice = await readKeyStore(path.join(inject('fixtureKeys'), 'users', 'alice'));
    const server = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const encryption = createPublicKey(alice.encryption.publicKey);
    let inFlight = 0;
    let most = 0;
    const issue = createEnvelopeIssuer(
      server.privateKey,
      async () => encryption,
      1,
      async (...args) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return await sealEnvelope(...args);
        } finally {
          inFlight -= 1;
        }
      },
    );
    const members = Array.from({ length: 200 }, (_, i) => `m${i}`);
    const envelopes = await issue('chat', 2, members);
    expect(most).toBe(1);
    expect([...envelopes.keys()].sort()).toEqual([...members].sort());
    const publicKey = createPublicKey(server.privateKey);
    for (const envelope of envelopes.values()) expect(await verifyEnvelope(publicKey, envelope)).toBe(true);
  });

  it('is a quarter of the thread pool, at least one', () => {
    expect([1, 4, 8, 16].map((pool) => signingSlots(pool))).toEqual([1, 1, 2, 4]);
  });

  /** An issuer with one signing slot whose sealing is `seal` and makes no signature. */
  async function fakeIssuer(seal: (fields: { chatId: string; recipient: string }) => Promise<void>) {
    const encryption = createPublicKey(
      (await readKeyStore(path.join(inject('fixtureKeys'), 'users', 'alice'))).encryption.publicKey,
    );
    const server = generateKeyPairSync('rsa', { modulusLength: 2048 });
    return createEnvelopeIssuer(
      server.privateKey,
      async () => encryption,
      1,
      async (_key, fields) => {
        await seal(fields);
        return { ...fields, serverSignature: 'fake' } as never;
      },
    );
  }

  it('a rotation whose sealing fails on one member stops: no more signatures are made for it', async () => {
    const sealed: string[] = [];
    const issue = await fakeIssuer(async ({ recipient }) => {
      sealed.push(recipient);
      if (recipient === 'm2') throw new Error('the thread pool failed');
    });
    const members = Array.from({ length: 50 }, (_, i) => `m${i}`);
    await expect(issue('chat', 2, members)).rejects.toThrow('the thread pool failed');
    await new Promise((r) => setImmediate(r));
    expect(sealed).toEqual(['m0', 'm1', 'm2']);
  });

  it('queues a large rotation under one abort listener: no MaxListenersExceededWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const issue = await fakeIssuer(async () => {});
      const members = Array.from({ length: 50 }, (_, i) => `m${i}`);
      expect((await issue('chat', 2, members)).size).toBe(50);
      // a warning is emitted on the next tick: let it come before listening stops
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
  });

  it('takes turns between rotations: a small chat does not wait behind a large one', async () => {
    const sealed: string[] = [];
    const issue = await fakeIssuer(async ({ chatId }) => {
      sealed.push(chatId);
      await new Promise((r) => setImmediate(r));
    });
    const large = issue(
      'large',
      2,
      Array.from({ length: 100 }, (_, i) => `m${i}`),
    );
    const small = issue('small', 2, ['a', 'b', 'c']);
    await small;
    await large;
    // one slot: after the large rotation's first signature, the two take turns
    expect(sealed.slice(0, 7)).toEqual(['large', 'large', 'small', 'large', 'small', 'large', 'small']);
    expect(sealed).toHaveLength(103);
  });
});
