/** The server under test and its users: registered in the data folder, then logged in over HTTP. */
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { startServerProcess } from '../scripts/child.js';
import { importEncryptionKey, toHex, unwrapChatKeyBytes } from '../src/client/index.js';
import { loadConfig } from '../src/config.js';
import type { KeyPairSet, PublicKeySet } from '../src/crypto/keys.js';
import { loginLimits } from '../src/plugins/accounts.js';
import { createAccounts } from '../src/services/accounts.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { caller } from './api.js';
import type { Pinning } from './measure.js';

export const PASSWORD = 'bench-password';
const as = caller();
export const name = (i: number) => `b${String(i).padStart(4, '0')}`;

export interface BenchChat {
  chatId: string;
  key: string;
  epoch: number;
}

/** Registers `members` users (bcrypt cost 4) and a login-storm user (cost 12) in `dataDir`. */
export async function registerUsers(dataDir: string, members: number, keys: PublicKeySet): Promise<void> {
  const store = openSqliteStore(dataDir);
  const limits = loginLimits(loadConfig({}));
  const fast = createAccounts({
    store,
    bcryptCost: 4,
    tokenTtlSeconds: 3600,
    signToken: () => '',
    ...limits,
  });
  for (let i = 0; i < members; i++) await fast.register(name(i), PASSWORD, keys);
  const slow = createAccounts({
    store,
    bcryptCost: 12,
    tokenTtlSeconds: 3600,
    signToken: () => '',
    ...limits,
  });
  await slow.register('storm', PASSWORD, keys);
  await store.close();
}

/** The server's settings for the bench: every limit out of the load's way. */
const BENCH_ENV = (dir: string) => ({
  SECURECHAT_DATA_DIR: path.join(dir, 'data'),
  SECURECHAT_KEYS_DIR: path.join(dir, 'keys'),
  SECURECHAT_DEMO_USERS: 'false',
  LOG_LEVEL: 'warn',
  SECURECHAT_POST_LIMIT: '100000000',
  SECURECHAT_LOGIN_LIMIT: '1000000',
  SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '1000000',
  // the login storm comes from one address: let every attempt reach bcrypt, as before the caps
  SECURECHAT_LOGIN_HASHES_PER_IP: '1000',
  SECURECHAT_LOGIN_QUEUE: '100000',
  SECURECHAT_MAX_STREAMS: '1000000',
  SECURECHAT_STREAM_OPEN_LIMIT: '1000000',
  SECURECHAT_MAX_MEMBERS: '1000',
  // a members-mode commit for a chat of 1,000 would fit (the server checks the two agree)
  SECURECHAT_BODY_LIMIT: String(4 * 1024 * 1024),
  SECURECHAT_ROTATE_MESSAGES: '1000000000',
  PRESENCE_GRACE_MS: '3600000',
  // every client of the bench is on this host: no cap on connections per address
  SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '0',
});

/** Stops a server process and waits until it is gone (its database is free for the next). */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * Logs every bench user in over HTTP, through a server started for it at BCRYPT_COST=4 (the cost
 * their hashes were made at). The server under test runs at the production cost (12), which the
 * login storm needs, and a login there would rehash each cost-4 hash to 12 first: for 1,000 users
 * that was most of the full run's 8-minute setup. Tokens are stateless JWTs under the data folder's
 * secret, so they stay valid on the server started next on the same folders.
 */
async function logInEveryone(dir: string, members: number): Promise<string[]> {
  const server = await startServerProcess({ ...BENCH_ENV(dir), BCRYPT_COST: '4' });
  try {
    const tokens: string[] = [];
    for (let i = 0; i < members; i++) {
      tokens.push((await as(server.url).login(name(i), PASSWORD)).token);
    }
    return tokens;
  } finally {
    await stopProcess(server.child);
  }
}

/**
 * Puts every user online on the server under test (its presence starts empty, and only online
 * invitees are added to a chat): each opens its event stream and closes it once answered, and
 * stays online through PRESENCE_GRACE_MS (an hour).
 */
async function comeOnline(url: string, tokens: string[]): Promise<void> {
  for (let from = 0; from < tokens.length; from += 50) {
    await Promise.all(
      tokens.slice(from, from + 50).map(async (token) => {
        const res = await request(`${url}/events`, { headers: { authorization: `Bearer ${token}` } });
        if (res.statusCode !== 200) throw new Error(`GET /events answered ${res.statusCode}`);
        res.body.destroy();
      }),
    );
  }
}

/** Logs every user in, then starts the server under test on the folders, pinned to the server's CPU. */
export async function startBenchServer(
  dir: string,
  members: number,
  pin: Pinning,
  args: string[],
  cleanup: (() => void)[],
) {
  const tokens = await logInEveryone(dir, members);
  const server = await startServerProcess(BENCH_ENV(dir), args);
  cleanup.push(() => server.child.kill('SIGKILL'));
  const pid = server.child.pid as number;
  pin.server0(pid);
  await comeOnline(server.url, tokens);
  return { server, url: server.url, pid, tokens, dbFile: path.join(dir, 'data', 'securechat.db') };
}
export type BenchServer = Awaited<ReturnType<typeof startBenchServer>>;

/** A chat of `size` of the bench users, every one joined; b0000 holds its key. */
export async function makeChat(s: BenchServer, pairs: KeyPairSet, size: number): Promise<BenchChat> {
  // at most 50 invitees a request: the rest are invited in batches (each rotates the key)
  const invitees = Array.from({ length: size - 1 }, (_, i) => name(i + 1));
  const owner = as(s.url, s.tokens[0]);
  const created = await owner.createChat({ invitees: invitees.slice(0, 49) });
  const chatId = created.chat.id;
  for (let from = 49; from < invitees.length; from += 50)
    await owner.inviteToChat(chatId, { invitees: invitees.slice(from, from + 50) });
  for (let i = 1; i < size; i++) await as(s.url, s.tokens[i]).joinChat(chatId);
  const envelope = await owner.getChatKey(chatId);
  const key = await unwrapChatKeyBytes(
    await importEncryptionKey(pairs.encryption.privateKey),
    envelope.wrappedKey,
  );
  return { chatId, key: toHex(key), epoch: envelope.epoch as number };
}

/** The bytes the server's database holds in use (pages less free ones), read beside the server. */
export function databaseBytes(dbFile: string): number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * (db.pragma('page_size', { simple: true }) as number);
  } finally {
    db.close();
  }
}
