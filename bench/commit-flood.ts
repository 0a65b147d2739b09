/**
 * A flood of members-mode commits with bad DSA signatures from one user (security round 2, #4):
 * SENDERS concurrent senders for SECONDS seconds, each commit carrying one envelope for each of
 * MEMBERS members of a pending epoch, sent as fast as the server answers them, or RATE commits a
 * second in all when RATE is set. Meanwhile another user posts messages one after another to a
 * chat of their own. Prints the commits sent and their answers, the DSA verifications the server
 * made per second (node:crypto's verify, counted), and the other user's post latency before and
 * during the flood. Starts the real server in this process (SQLite in a temp folder unless the
 * environment says otherwise); the flood runs in a worker thread, the other user's posts in this
 * one. Compare runs of one machine, never absolute figures. Never part of `npm test`.
 *
 *   node --import tsx bench/commit-flood.ts
 *   SENDERS=8 SECONDS=12 MEMBERS=48 RATE=30 node --import tsx bench/commit-flood.ts
 */
import crypto, { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { request } from 'undici';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { messageSigningInput } from '../src/crypto/canonical.js';
import { generateKeyPairSet, publicKeysOf } from '../src/crypto/keys.js';
import { signSync } from '../src/crypto/signatures.js';

const SENDERS = Number(process.env.SENDERS ?? 8);
const SECONDS = Number(process.env.SECONDS ?? 12);
const MEMBERS = Number(process.env.MEMBERS ?? 48);
const RATE = Number(process.env.RATE ?? 0);

// Every DSA verification the server makes (the flood's envelopes are DSA-signed; the other user's
// posts are Ed25519), counted by wrapping node:crypto's verify for every module that imported it.
let dsaChecks = 0;
const verify = crypto.verify;
crypto.verify = ((...args: Parameters<typeof verify>) => {
  if ((args[2] as { dsaEncoding?: string }).dsaEncoding !== undefined) dsaChecks += 1;
  return verify(...args);
}) as typeof verify;
syncBuiltinESMExports();

const root = await mkdtemp(path.join(tmpdir(), 'securechat-bench-commits-'));
const config = loadConfig({
  SECURECHAT_DATA_DIR: path.join(root, 'data'),
  SECURECHAT_KEYS_DIR: path.join(root, 'keys'),
  SECURECHAT_DEMO_USERS: 'false',
  BCRYPT_COST: '4',
  LOG_LEVEL: 'silent',
  SECURECHAT_POST_LIMIT: '100000000',
  SECURECHAT_PENDING_SECONDS: '86400',
  ...process.env,
});
const app = await buildApp(config, { keySizes: { rsaBits: 2048 } });
const url = await app.listen({ port: 0, host: '127.0.0.1' });
const password = 'a long enough secret';
const mallory = await generateKeyPairSet({ rsaBits: 2048 });
const victim = await generateKeyPairSet({ rsaBits: 2048 });
const members = [
  'mallory',
  ...Array.from({ length: MEMBERS - 1 }, (_, i) => `m${String(i).padStart(3, '0')}`),
];
for (const u of members) await app.accounts.register(u, password, publicKeysOf(mallory));
await app.accounts.register('victim', password, publicKeysOf(victim));

async function call(method: 'GET' | 'POST', route: string, token?: string, body?: unknown) {
  const res = await request(`${url}${route}`, {
    method,
    headers: {
      ...(token && { authorization: `Bearer ${token}` }),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}
const login = async (username: string) =>
  (await call('POST', '/auth/login', undefined, { username, password })).body.token as string;

// Mallory's members-mode chat, its epoch 2 pending for every member (stored as a server would
// after a rotation); the victim's server-mode chat at epoch 1.
const now = new Date().toISOString();
const flooded = randomUUID();
const sorted = [...members].sort();
await app.store.createChat(
  {
    id: flooded,
    epoch: 1,
    createdBy: 'mallory',
    createdAt: now,
    members: members.map((username) => ({ username, state: 'joined', sinceEpoch: 1 })),
    keyMode: 'members',
    pending: { epoch: 2, members: sorted, added: [], removed: [], reason: 'messages' },
  },
  [],
  [],
);
const quiet = randomUUID();
await app.store.createChat(
  {
    id: quiet,
    epoch: 1,
    createdBy: 'victim',
    createdAt: now,
    members: [{ username: 'victim', state: 'joined', sinceEpoch: 1 }],
  },
  [],
  [],
);
const malloryToken = await login('mallory');
const victimToken = await login('victim');

// A well-formed DSA signature over other bytes: each costs the server a full verification.
const badSignature = signSync(
  'dsa-sha256',
  mallory.signing['dsa-sha256'].privateKey,
  Buffer.from('something else'),
).toString('base64');
// made once: an attacker sends the same bytes again and again
const commit = JSON.stringify({
  epoch: 2,
  members: sorted,
  issuedAt: new Date().toISOString(),
  envelopes: sorted.map((recipient) => ({
    recipient,
    wrappedKey: randomBytes(256).toString('base64'),
    signatureAlgorithm: 'dsa-sha256',
    signature: badSignature,
  })),
});

/** One signed post of the victim (signed before the clock starts), and how long it took. */
async function post(): Promise<number> {
  const id = randomUUID();
  const sentAt = new Date().toISOString();
  const parts = {
    iv: randomBytes(12).toString('base64'),
    ciphertext: randomBytes(64).toString('base64'),
    tag: randomBytes(16).toString('base64'),
  };
  const header = { chatId: quiet, epoch: 1, sender: 'victim', id, sentAt };
  const signature = signSync(
    'ed25519',
    victim.signing.ed25519.privateKey,
    messageSigningInput(header, parts),
  ).toString('base64');
  const start = performance.now();
  const res = await call('POST', `/chats/${quiet}/messages`, victimToken, {
    id,
    epoch: 1,
    sentAt,
    ...parts,
    signatureAlgorithm: 'ed25519',
    signature,
  });
  if (res.status !== 201) throw new Error(`the victim's post answered ${res.status}`);
  return performance.now() - start;
}

/** The victim's posts, one after another, until `until` (ms, performance clock). */
async function posts(until: number): Promise<number[]> {
  const times: number[] = [];
  while (performance.now() < until) times.push(await post());
  return times;
}

/**
 * The flood, in a thread of its own (its own event loop, so the senders' work does not queue
 * behind the server's, nor the server's behind theirs): SENDERS loops of one commit at a time,
 * paced at RATE in all when it is set; answers the count of each status.
 */
const FLOOD = `
const { workerData, parentPort } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const { url, token, body, senders, seconds, rate } = workerData;
const statuses = {};
const start = performance.now();
const until = start + seconds * 1000;
async function sender() {
  for (let sent = 0; performance.now() < until; sent++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
      body,
    });
    await res.arrayBuffer();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    const next = start + ((sent + 1) * 1000 * senders) / rate;
    if (rate > 0 && next > performance.now()) await new Promise((r) => setTimeout(r, next - performance.now()));
  }
}
Promise.all(Array.from({ length: senders }, sender)).then(() => parentPort.postMessage(statuses));
`;

const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);
};
const latency = (xs: number[]) => ({
  posts: xs.length,
  p50Ms: percentile(xs, 50),
  p90Ms: percentile(xs, 90),
});

try {
  for (let i = 0; i < 20; i++) await post(); // warm up
  const quietPosts = await posts(performance.now() + 3000);

  const checksBefore = dsaChecks;
  const flood = new Worker(FLOOD, {
    eval: true,
    workerData: {
      url: `${url}/chats/${flooded}/epochs`,
      token: malloryToken,
      body: commit,
      senders: SENDERS,
      seconds: SECONDS,
      rate: RATE,
    },
  });
  const answered = new Promise<Record<string, number>>((resolve, reject) => {
    flood.once('message', resolve);
    flood.once('error', reject);
  });
  const start = performance.now();
  const floodPosts = await posts(start + SECONDS * 1000);
  const answers = await answered;
  const seconds = (performance.now() - start) / 1000;
  const checks = dsaChecks - checksBefore;
  const requests = Object.values(answers).reduce((a, b) => a + b, 0);
  console.log(
    JSON.stringify({
      command: `${RATE ? `RATE=${RATE} ` : ''}node --import tsx bench/commit-flood.ts`,
      rate: RATE || 'as fast as answered',
      store: config.store.kind,
      senders: SENDERS,
      seconds: Math.round(seconds * 10) / 10,
      envelopesPerCommit: MEMBERS,
      commits: requests,
      answers,
      signatureChecks: checks,
      signatureChecksPerSecond: Math.round(checks / seconds),
      otherUserQuiet: latency(quietPosts),
      otherUserDuringFlood: latency(floodPosts),
    }),
  );
} finally {
  await app.close();
  await rm(root, { recursive: true, force: true });
}
