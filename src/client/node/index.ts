/**
 * Node adapters of the client library: DSA on node:crypto (no browser has DSA) and fetch over
 * undici with a CA for self-signed HTTPS. Nothing else in src/client/ may import `node:`.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import type { Fetch } from '../api.js';
import type { DsaKeyGenerator } from '../keygen.js';
import type { SignatureProvider } from '../signatures.js';
import { webCryptoSignatures } from '../signatures.js';

/** DSA with SHA-256 and a DER Dss-Sig-Value, on OpenSSL (signing in constant time). */
export const nodeDsa: SignatureProvider = {
  async importPublic(_alg, spki) {
    return createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  },
  async importPrivate(_alg, pkcs8) {
    return createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  },
  sign(_alg, key, data) {
    return new Promise((resolve, reject) =>
      sign('sha256', data, { key: key as KeyObject, dsaEncoding: 'der' }, (error, signature) =>
        error ? reject(error) : resolve(new Uint8Array(signature)),
      ),
    );
  },
  verify(_alg, key, data, signature) {
    return new Promise((resolve) => {
      try {
        verify('sha256', data, { key: key as KeyObject, dsaEncoding: 'der' }, signature, (error, ok) =>
          resolve(!error && ok),
        );
      } catch {
        resolve(false);
      }
    });
  },
};

/** DSA-2048/256 key pairs on OpenSSL: fresh domain parameters per key, off the event loop. */
export const nodeDsaKeyGenerator: DsaKeyGenerator = () =>
  new Promise((resolve, reject) =>
    generateKeyPair(
      'dsa',
      {
        modulusLength: 2048,
        divisorLength: 256,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      },
      (error, publicKey, privateKey) => (error ? reject(error) : resolve({ publicKey, privateKey })),
    ),
  );

/** WebCrypto for RSA-PSS and Ed25519, node:crypto for DSA. */
export function nodeSignatures(): SignatureProvider {
  return webCryptoSignatures(nodeDsa);
}

/** Statuses whose Response has no body (Fetch standard). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * The library's `fetch` over undici's `request` (which, unlike the Fetch standard, talks to any
 * port): calls time out after 30 s; the event stream has no body timeout (the SSE reader watches
 * for silence itself). `ca` is the PEM an https server must chain to.
 */
export function nodeFetch(options: { ca?: string; connections?: number } = {}): {
  fetch: Fetch;
  streamFetch: Fetch;
  close(): Promise<void>;
} {
  const connect = { timeout: 10_000, ...(options.ca && { ca: options.ca }) };
  const calls = new Agent({
    connect,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    ...(options.connections && { connections: options.connections }),
  });
  const streams = new Agent({ connect, headersTimeout: 30_000, bodyTimeout: 0 });
  const via =
    (dispatcher: Agent): Fetch =>
    async (url, init) => {
      const res = await request(url, {
        method: (init.method ?? 'GET') as 'GET',
        headers: init.headers as Record<string, string>,
        body: init.body as string | undefined,
        signal: init.signal ?? undefined,
        dispatcher,
      });
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers))
        for (const one of [value ?? []].flat()) headers.append(name, one);
      if (NULL_BODY.has(res.statusCode)) {
        await res.body.dump();
        return new Response(null, { status: res.statusCode, headers });
      }
      return new Response(Readable.toWeb(res.body) as ReadableStream<Uint8Array>, {
        status: res.statusCode,
        headers,
      });
    };
  return {
    fetch: via(calls),
    streamFetch: via(streams),
    async close() {
      await Promise.all([calls, streams].map((agent) => (agent.closed ? undefined : agent.close())));
    },
  };
}
