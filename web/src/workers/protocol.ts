import { ClientError, type DsaKeyGenerator, type PemKeyPair } from '../../../src/client/index.js';

/** What the DSA worker answers to `generate`. */
export type DsaWorkerAnswer =
  | { ok: true; privateKey: string; publicKey: string }
  | { ok: false; error: string };

/** The hashed URL of the worker's bundle, set by web/build.ts at build time. */
declare const SECURECHAT_DSA_WORKER: string;

const PEM = (label: string) =>
  new RegExp(`^-----BEGIN ${label}-----\\n[A-Za-z0-9+/=\\n]+-----END ${label}-----\\n$`);

/** The worker's answer, taken only in the shape it was asked for: two PEM strings, nothing else. */
function pairOf(answer: unknown): PemKeyPair {
  const a = answer as Partial<Record<'ok' | 'privateKey' | 'publicKey' | 'error', unknown>> | null;
  if (a?.ok === true && typeof a.privateKey === 'string' && typeof a.publicKey === 'string') {
    if (PEM('PRIVATE KEY').test(a.privateKey) && PEM('PUBLIC KEY').test(a.publicKey))
      return { privateKey: a.privateKey, publicKey: a.publicKey };
  }
  const why = a?.ok === false && typeof a.error === 'string' ? `: ${a.error}` : '';
  throw new ClientError(`the DSA key was not made${why}`);
}

/**
 * DSA key generation off the page's thread: a fresh worker per key (ended once it answered), so
 * the page stays responsive during the seconds of BigInt work.
 */
export const workerDsaKeyGenerator: DsaKeyGenerator = () =>
  new Promise<PemKeyPair>((resolve, reject) => {
    const worker = new Worker(SECURECHAT_DSA_WORKER, { name: 'dsa-keygen' });
    worker.onmessage = (event) => {
      worker.terminate();
      try {
        resolve(pairOf(event.data));
      } catch (error) {
        reject(error);
      }
    };
    worker.onerror = (event) => {
      worker.terminate();
      event.preventDefault();
      reject(new ClientError(`the DSA key was not made: ${event.message || 'the key worker failed'}`));
    };
    worker.onmessageerror = () => {
      worker.terminate();
      reject(new ClientError('the DSA key was not made: the key worker answered something unreadable'));
    };
    worker.postMessage('generate');
  });
