import path from 'node:path';
import { inject } from 'vitest';
import {
  type Api,
  buildCommit,
  type CommitBody,
  type FeedEvent,
  type Fetch,
  follow,
  importPrivatePem,
  type MemberKeyEnvelope,
  type SignatureProvider,
} from '../../src/client/index.js';
import { nodeSignatures } from '../../src/client/node/index.js';
import { readKeyStore } from '../../src/crypto/keystore.js';

export const keyStore = (user: string) => readKeyStore(path.join(inject('fixtureKeys'), 'users', user));

/**
 * A server that is a table: `GET /path` → a JSON body (or [status, body]); what was asked is kept.
 * For the library's checks, which must hold whatever a server answers.
 */
export function tableFetch(routes: Record<string, unknown>): Fetch & { asked: string[] } {
  const asked: string[] = [];
  const fetch = async (url: string, init: RequestInit) => {
    const { pathname, search } = new URL(url);
    const key = `${init.method ?? 'GET'} ${pathname}${search}`;
    asked.push(key);
    const found = routes[key];
    const [status, body] = Array.isArray(found)
      ? found
      : found === undefined
        ? [404, { code: 'NOT_FOUND' }]
        : [200, found];
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': status < 400 ? 'application/json' : 'application/problem+json' },
    });
  };
  return Object.assign(fetch, { asked });
}

/**
 * Member envelopes for `members` of epoch `epoch`, signed with `signer`'s own keys but naming
 * `committer`: what a forger (a compromised server, a member who left) could make, and what an
 * honest committer makes when `committer` is `signer`.
 */
export async function forgeEnvelopes(
  signer: string,
  chatId: string,
  epoch: number,
  members: string[],
  committer = signer,
  provider: SignatureProvider = nodeSignatures(),
): Promise<{ body: CommitBody; envelopes: MemberKeyEnvelope[] }> {
  const pairs = await keyStore(signer);
  const body = await buildCommit(provider, {
    chatId,
    epoch,
    members,
    committer,
    alg: 'ed25519',
    signingKey: await importPrivatePem(provider, 'ed25519', pairs.signing.ed25519.privateKey),
    wrapFor: async (u) => (await keyStore(u)).encryption.publicKey,
  });
  const envelopes = body.envelopes.map(
    (e): MemberKeyEnvelope => ({
      chatId,
      epoch,
      recipient: e.recipient,
      algorithm: 'RSA-OAEP-SHA256',
      wrappedKey: e.wrappedKey,
      issuedAt: body.issuedAt,
      committer,
      members: body.members,
      signatureAlgorithm: e.signatureAlgorithm,
      signature: e.signature,
    }),
  );
  return { body, envelopes };
}

/** Events kept for a test to wait on: `next` takes the first that matches, `until` waits for a check. */
export function eventQueue() {
  const events: FeedEvent[] = [];
  const waiters: (() => void)[] = [];
  const arrival = () => new Promise<void>((resolve) => waiters.push(resolve));
  return {
    push(event: FeedEvent): void {
      events.push(event);
      for (const wake of waiters.splice(0)) wake();
    },
    /** The next event not taken that matches, waiting for it. */
    async next(match: (e: FeedEvent) => boolean): Promise<FeedEvent> {
      for (;;) {
        const found = events.find(match);
        if (found) {
          events.splice(events.indexOf(found), 1);
          return found;
        }
        await arrival();
      }
    },
    /** Resolves once `check` holds, re-checked after every event. */
    async until(check: () => boolean): Promise<void> {
      while (!check()) await arrival();
    },
  };
}

/**
 * `api`'s event stream followed with the library's `follow`: each event is handed to `handle`,
 * then kept for the test's `next`. `open` resolves once the stream is connected; `close` stops it.
 */
export function followed(api: Api, handle: (event: FeedEvent) => Promise<void> | void = () => {}) {
  const queue = eventQueue();
  const abort = new AbortController();
  let connected!: () => void;
  const open = new Promise<void>((resolve) => (connected = resolve));
  const done = follow(
    api,
    {
      onEvent: async (event) => {
        await handle(event);
        queue.push(event);
      },
      onStatus: (status) => status === 'connected' && connected(),
    },
    abort.signal,
  );
  return {
    ...queue,
    open,
    /** Ends when the stream does: on `close`, or with the error that stopped `follow`. */
    done,
    async close(): Promise<void> {
      abort.abort();
      await done;
    },
  };
}
