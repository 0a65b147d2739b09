/**
 * The Web Worker that makes the DSA key pair of a new key store (a classic worker, bundled on its
 * own by web/build.ts): BigInt domain parameters take seconds, which would freeze the page on its
 * own thread. It answers one `generate` with the pair as PEM (or the error's text) and is then
 * ended by the page. It never signs: see src/client/dsa-keygen.ts.
 */
import { generateDsaKeyPair } from '../../../src/client/dsa-keygen.js';
import type { DsaWorkerAnswer } from './protocol.js';

/** The worker's global scope, as much of it as is used (the web build types only the DOM). */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent) => void) | null;
  postMessage(answer: DsaWorkerAnswer): void;
};

scope.onmessage = (event) => {
  if (event.data !== 'generate') return;
  generateDsaKeyPair().then(
    (pair) => scope.postMessage({ ok: true, privateKey: pair.privateKey, publicKey: pair.publicKey }),
    (error) =>
      scope.postMessage({ ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
};
