/**
 * How long one message verification waits while a 1,000-member key rotation signs its envelopes
 * (issue 15, item 8): with the signing share (a quarter of libuv's pool) and without it (every
 * signature queued at once, as before). RSA-3072 keys, as in production. Prints the figures;
 * never part of `npm test`.
 *
 *   node --import tsx bench/signing-share.ts
 */
import { generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { signSync, verifyAsync } from '../src/crypto/signatures.js';
import { createEnvelopeIssuer, signingSlots } from '../src/services/envelopes.js';

const rsa = () => generateKeyPairSync('rsa', { modulusLength: 3072 });
const server = rsa();
const member = rsa();
const sender = rsa();
const data = Buffer.from('securechat/v1/msg\nchat\n2\nsender\nid\n2026-11-26T09:00:00.000Z\nIV\nCT\nTG');
const signature = signSync('rsa-pss-sha256', sender.privateKey, data);
const members = Array.from({ length: 1000 }, (_, i) => `member${i}`);

for (const [label, slots] of [
  ['signing share', signingSlots()],
  ['unbounded (before)', Number.POSITIVE_INFINITY],
] as const) {
  const issue = createEnvelopeIssuer(server.privateKey, async () => member.publicKey, slots);
  const start = performance.now();
  const rotation = issue('chat', 2, members);
  await new Promise((resolve) => setImmediate(resolve));
  const asked = performance.now();
  await verifyAsync('rsa-pss-sha256', sender.publicKey, data, signature);
  const verifyMs = performance.now() - asked;
  await rotation;
  console.log(
    JSON.stringify({
      label,
      slots,
      verificationWaitMs: Math.round(verifyMs),
      rotationMs: Math.round(performance.now() - start),
    }),
  );
}
