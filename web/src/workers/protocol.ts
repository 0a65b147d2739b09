import { ClientError, type DsaKeyGenerator, type PemKeyPair } from '../../../src/client/index.js';

/** What the DSA worker answers to `generate`. */
export type DsaWorkerAnswer =
  | { ok: true; privateKey: string; publicKey: string }
  | { ok: false; error: string };

/** The hashed URL of the worker's bundle, set by web/build.ts at build time. */
declare const SECURECHAT_DSA_WORKER: string;

/**
 * The name of the page's one Trusted Types policy, the only one the CSP allows (`trusted-types`
 * in src/plugins/web.ts): `new Worker(url)` is a script-URL sink, so under
 * `require-trusted-types-for 'script'` it takes only a TrustedScriptURL.
 */
const WORKER_POLICY = 'securechat-dsa-worker';

/** Trusted Types, as much of it as is used (TypeScript's DOM library does not type it). */
interface TrustedTypes {
  createPolicy(
    name: string,
    rules: { createScriptURL(url: string): string },
  ): {
    createScriptURL(url: string): unknown;
  };
}

let workerUrl: string | undefined;

/**
 * The worker's URL as the Worker constructor takes it: through the policy, which lets exactly the
 * built-in worker URL through and refuses any other. Made once (the CSP allows no duplicate
 * policy); a browser without Trusted Types gets the plain string.
 */
function dsaWorkerUrl(): string {
  if (workerUrl === undefined) {
    const types = (globalThis as { trustedTypes?: TrustedTypes }).trustedTypes;
    workerUrl = types
      ? (types
          .createPolicy(WORKER_POLICY, {
            createScriptURL(url) {
              if (url !== SECURECHAT_DSA_WORKER) throw new TypeError(`not the key worker's URL: ${url}`);
              return url;
            },
          })
          .createScriptURL(SECURECHAT_DSA_WORKER) as string)
      : SECURECHAT_DSA_WORKER;
  }
  return workerUrl;
}

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
    const worker = new Worker(dsaWorkerUrl(), { name: 'dsa-keygen' });
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
