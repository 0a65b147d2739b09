/**
 * A real login's latency while abandoned guesses queue for bcrypt (issue 15, item 5). Starts the
 * real server in this process on a temp folder at the production BCRYPT_COST (12), registers one
 * user, then: one login alone; and one login sent once 28 guesses for made-up usernames, from 28
 * addresses (X-Forwarded-For through a trusted proxy), have been abandoned by their clients after
 * 200 ms. Prints the figures; never part of `npm test`.
 *
 *   node --import tsx bench/logins.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { generateKeyPairSet, publicKeysOf } from '../src/crypto/keys.js';

const root = await mkdtemp(path.join(tmpdir(), 'securechat-bench-logins-'));
const config = loadConfig({
  SECURECHAT_DATA_DIR: path.join(root, 'data'),
  SECURECHAT_KEYS_DIR: path.join(root, 'keys'),
  SECURECHAT_DEMO_USERS: 'false',
  SECURECHAT_LOGIN_LIMIT: '1000',
  SECURECHAT_TRUST_PROXY: 'loopback',
  LOG_LEVEL: 'silent',
  ...process.env,
});
const app = await buildApp(config, { keySizes: { rsaBits: 2048 } });
const url = await app.listen({ port: 0, host: '127.0.0.1' });
const password = 'a long enough secret';
await app.accounts.register('real', password, publicKeysOf(await generateKeyPairSet({ rsaBits: 2048 })));

async function login(username: string, from: string, signal?: AbortSignal): Promise<number> {
  const res = await request(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
    body: JSON.stringify({ username, password }),
    signal,
  });
  await res.body.dump();
  return res.statusCode;
}

async function timed(fn: () => Promise<number>): Promise<{ ms: number; status: number }> {
  const start = performance.now();
  const status = await fn();
  return { ms: Math.round(performance.now() - start), status };
}

try {
  await login('real', '192.0.2.1'); // warm up
  const alone = await timed(() => login('real', '192.0.2.1'));
  const outcomes = await Promise.all(
    Array.from({ length: 28 }, (_, i) =>
      login(`madeup${i}`, `203.0.113.${i}`, AbortSignal.timeout(200)).then(String, () => 'abandoned'),
    ),
  );
  const busy = await timed(() => login('real', '192.0.2.1'));
  const count = (o: string) => outcomes.filter((x) => x === o).length;
  console.log(
    JSON.stringify({
      bcryptCost: config.bcryptCost,
      loginQueue: config.loginQueue,
      hashesPerIp: config.loginHashesPerIp,
      aloneMs: alone.ms,
      withAbandonedMs: busy.ms,
      realStatus: busy.status,
      guesses: { abandoned: count('abandoned'), 401: count('401'), 429: count('429'), 503: count('503') },
    }),
  );
} finally {
  await app.close();
  await rm(root, { recursive: true, force: true });
}
