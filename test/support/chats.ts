import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { readPublicKeys } from '../../src/crypto/keystore.js';
import { BACKEND, backendEnv } from './backend.js';
import { Api, type Participant } from './client.js';
import { PASSWORD, type TestServer } from './helper.js';

/**
 * Runs one statement on the server's database behind its back, as another process (an older
 * instance, an operator) would; `?` placeholders on both engines.
 */
export async function onDatabase(server: TestServer, sql: string, params: unknown[] = []): Promise<void> {
  if (BACKEND === 'sqlite') {
    const db = new Database(path.join(server.dataDir, 'securechat.db'));
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  const db = new pg.Client({ connectionString: (await backendEnv(server.dataDir)).DATABASE_URL });
  await db.connect();
  try {
    let n = 0;
    await db.query(
      sql.replace(/\?/g, () => `$${++n}`),
      params,
    );
  } finally {
    await db.end();
  }
}

/**
 * Registers `count` more users (`<prefix>1` …) with alice's public keys (their private keys are
 * never used: these users only log in and change membership) and logs them in, so they are online.
 */
export async function moreUsers(server: TestServer, prefix: string, count: number): Promise<Api[]> {
  const keys = await readPublicKeys(path.join(server.keysDir, 'users', 'alice'));
  const names = Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);
  for (const name of names) await server.app.accounts.register(name, PASSWORD, keys);
  return Promise.all(
    names.map(async (username) => {
      const api = new Api(server.url);
      const res = await api.call('login', { body: { username, password: PASSWORD } });
      if (res.status !== 200) throw new Error(`login ${username}: ${res.status}`);
      api.token = res.body.token;
      return api;
    }),
  );
}

/** A chat of `owner` with `others`, every one joined and holding the key. */
export async function chatOf(owner: Participant, ...others: Participant[]): Promise<string> {
  const res = await owner.api.call('createChat', { body: { invitees: others.map((o) => o.username) } });
  await owner.acceptEnvelope(res.body.keyEnvelope);
  for (const o of others) {
    await o.acceptEnvelope(
      (await o.api.call('joinChat', { params: { chatId: res.body.chat.id } })).body.keyEnvelope,
    );
  }
  return res.body.chat.id;
}
