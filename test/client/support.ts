import path from 'node:path';
import { inject } from 'vitest';
import type { Fetch } from '../../src/client/index.js';
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
