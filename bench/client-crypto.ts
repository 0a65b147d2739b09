/**
 * `node --import tsx bench/client-crypto.ts`: operations per second of the client library
 * (WebCrypto; DSA through the Node provider, and the browser's BigInt verifier) beside
 * node:crypto, per signature scheme, one at a time, for about a second each. Prints figures only.
 */
import { randomBytes } from 'node:crypto';
import {
  bigintDsaVerifier,
  importPrivatePem,
  importPublicPem,
  SIGNATURE_ALGORITHMS,
  type SignatureProvider,
} from '../src/client/index.js';
import { nodeSignatures } from '../src/client/node/index.js';
import { generateKeyPairSet } from '../src/crypto/keys.js';
import { signAsync, verifyAsync } from '../src/crypto/signatures.js';

async function rate(run: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < 1000) {
    await run();
    n++;
  }
  return Math.round((n * 1000) / (performance.now() - start));
}

const pairs = await generateKeyPairSet();
const data = new Uint8Array(randomBytes(400));
const library = nodeSignatures();
const rows: string[] = [];
for (const alg of SIGNATURE_ALGORITHMS) {
  const pair = pairs.signing[alg];
  const signature = await signAsync(alg, pair.privateKey, Buffer.from(data));
  const sig = new Uint8Array(signature);
  const verifier = async (provider: SignatureProvider) => {
    const key = await importPublicPem(provider, alg, pair.publicKey);
    return rate(() => provider.verify(alg, key, data, sig));
  };
  const privateKey = await importPrivatePem(library, alg, pair.privateKey);
  rows.push(
    `| ${alg} | ${await rate(() => library.sign(alg, privateKey, data))} | ${await rate(() =>
      signAsync(alg, pair.privateKey, Buffer.from(data)),
    )} | ${await verifier(library)} | ${await rate(() =>
      verifyAsync(alg, pair.publicKey, Buffer.from(data), signature),
    )} | ${alg === 'dsa-sha256' ? await verifier(bigintDsaVerifier) : '-'} |`,
  );
}
console.log(
  '| scheme | library sign/s | node:crypto sign/s | library verify/s | node:crypto verify/s | BigInt DSA verify/s |',
);
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
