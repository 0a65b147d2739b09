/** The server under test and its users: registered in the data folder, then logged in over HTTP. */
import path from 'node:path';
import Database from 'better-sqlite3';
import { startServerProcess } from '../cli/child.js';
import { importEncryptionKey, toHex, unwrapChatKeyBytes } from '../src/client/index.js';
import type { KeyPairSet, PublicKeySet } from '../src/crypto/keys.js';
import { createAccounts } from '../src/services/accounts.js';
import { openSqliteStore } from '../src/store/sqlite.js';
import { caller } from './api.js';
import type { Pinning } from './measure.js';

export const PASSWORD = 'bench-password';
export const api = caller();
export const name = (i: number) => `b${String(i).padStart(4, '0')}`;

export interface BenchChat {
  chatId: string;
  key: string;
  epoch: number;
}

/** Registers `members` users (bcrypt cost 4) and a login-storm user (cost 12) in `dataDir`. */
export async function registerUsers(dataDir: string, members: number, keys: PublicKeySet): Promise<void> {
  const store = openSqliteStore(dataDir);
  const fast = createAccounts({ store, bcryptCost: 4, tokenTtlSeconds: 3600, signToken: () => '' });
  for (let i = 0; i < members; i++) await fast.register(name(i), PASSWORD, keys);
  const slow = createAccounts({ store, bcryptCost: 12, tokenTtlSeconds: 3600, signToken: () => '' });
  await slow.register('storm', PASSWORD, keys);
  await store.close();
}

/** Starts the server on the folders, pinned to the server's CPU, and logs every user in. */
export async function startBenchServer(
  dir: string,
  members: number,
  pin: Pinning,
  args: string[],
  cleanup: (() => void)[],
) {
  const dataDir = path.join(dir, 'data');
  const server = await startServerProcess(
    {
      SECURECHAT_DATA_DIR: dataDir,
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
      SECURECHAT_MAX_MEMBERS: '100000',
      SECURECHAT_ROTATE_MESSAGES: '1000000000',
      PRESENCE_GRACE_MS: '3600000',
    },
    args,
  );
  cleanup.push(() => server.child.kill('SIGKILL'));
  const pid = server.child.pid as number;
  pin.server0(pid);
  const tokens: string[] = [];
  for (let i = 0; i < members; i++) {
    tokens.push(
      (await api(server.url, 'POST', '/auth/login', undefined, { username: name(i), password: PASSWORD }))
        .token,
    );
  }
  return { server, url: server.url, pid, tokens, dbFile: path.join(dataDir, 'securechat.db') };
}
export type BenchServer = Awaited<ReturnType<typeof startBenchServer>>;

/** A chat of `size` of the bench users, every one joined; b0000 holds its key. */
export async function makeChat(s: BenchServer, pairs: KeyPairSet, size: number): Promise<BenchChat> {
  // at most 50 invitees a request: the rest are invited in batches (each rotates the key)
  const invitees = Array.from({ length: size - 1 }, (_, i) => name(i + 1));
  const created = await api(s.url, 'POST', '/chats', s.tokens[0], { invitees: invitees.slice(0, 49) });
  const chatId = created.chat.id as string;
  for (let from = 49; from < invitees.length; from += 50) {
    await api(s.url, 'POST', `/chats/${chatId}/invite`, s.tokens[0], {
      invitees: invitees.slice(from, from + 50),
    });
  }
  for (let i = 1; i < size; i++) await api(s.url, 'POST', `/chats/${chatId}/join`, s.tokens[i]);
  const envelope = await api(s.url, 'GET', `/chats/${chatId}/key`, s.tokens[0]);
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
