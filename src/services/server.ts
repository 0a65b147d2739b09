import { createPublicKey, type KeyObject } from 'node:crypto';
import { fingerprint } from '../crypto/keys.js';
import { Errors } from '../errors.js';
import type { Store } from '../store/types.js';

/** The server's public key as clients pin it (`GET /server/key`). */
export interface ServerKeyView {
  algorithm: 'rsa-pss-sha256';
  publicKey: string;
  fingerprint: string;
}

/** The public half of the server's envelope-signing key, as `GET /server/key` serves it. */
export function serverKeyView(serverKey: KeyObject): ServerKeyView {
  const publicKey = createPublicKey(serverKey);
  return {
    algorithm: 'rsa-pss-sha256',
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    fingerprint: fingerprint(publicKey),
  };
}

/** What the server says about itself: its envelope-signing key, and whether it can serve. */
export function createServerInfo({
  store,
  bus,
  key,
}: {
  store: Store;
  /** The bus's probe (Redis answers); in process, always ready. */
  bus: { ping(): Promise<void> };
  key: ServerKeyView;
}) {
  return {
    key: () => key,
    /** 503 while the database does not answer: a load balancer sends requests elsewhere. */
    async health() {
      try {
        await store.ping();
      } catch {
        throw new Errors.UNAVAILABLE('The database does not answer.');
      }
      return { status: 'ok' as const };
    },
    /** The process answers: nothing else is asked (a liveness probe). */
    live() {
      return { status: 'ok' as const };
    },
    /**
     * Both backends answer (a readiness probe); 503 otherwise. While the instance shuts down the
     * drain answers 503 before this is reached (src/app.ts).
     */
    async ready() {
      const [db, redis] = await Promise.allSettled([store.ping(), bus.ping()]);
      if (db.status === 'rejected') throw new Errors.UNAVAILABLE('The database does not answer.');
      if (redis.status === 'rejected') throw new Errors.UNAVAILABLE('The bus (Redis) does not answer.');
      return { status: 'ok' as const };
    },
  };
}

export type ServerInfo = ReturnType<typeof createServerInfo>;
