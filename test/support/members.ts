import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterEach, expect } from 'vitest';
import {
  Api,
  Client,
  type CommitOutcome,
  type FeedEvent,
  importUserKeys,
  type MemberChange,
  type MemberKeyEnvelope,
  MemoryStores,
} from '../../src/client/index.js';
import { nodeSignatures } from '../../src/client/node/index.js';
import { unwrapKey } from '../../src/crypto/envelope.js';
import type { PendingEpoch } from '../../src/store/chat-types.js';
import { BACKEND, backendEnv } from './backend.js';
import { Api as SpecApi } from './client.js';
import { PASSWORD, type TestServer } from './helper.js';
import { eventQueue, followed, keyStore } from './library.js';

/**
 * A user of a members-mode chat as a real client behaves: the client library, its own stores, and
 * its event stream followed, key events handled as they come (envelopes accepted, pending epochs
 * committed when the rule allows). What it saw is kept for the test to wait on.
 */
export interface Member {
  client: Client;
  stores: MemoryStores;
  username: string;
  changes: MemberChange[];
  refused: { chatId: string; reason: string }[];
  /** Key events it could not use (an envelope refused), with the reason. */
  errors: string[];
  outcomes: CommitOutcome[];
  /** The next event not taken that matches, waiting for it. */
  next(match: (e: FeedEvent) => boolean): Promise<FeedEvent>;
  /** Resolves once `check` holds, re-checked after every event. */
  until(check: () => boolean): Promise<void>;
  close(): Promise<void>;
}

export async function member(
  server: TestServer,
  username: string,
  options: { follow?: boolean; stores?: MemoryStores } = {},
): Promise<Member> {
  const provider = nodeSignatures();
  const keys = await importUserKeys(await keyStore(username), provider);
  const stores = options.stores ?? new MemoryStores();
  const m = { username, stores, changes: [], refused: [], errors: [], outcomes: [] } as unknown as Member;
  m.client = await Client.login({
    api: new Api({ server: server.url }),
    username,
    password: PASSWORD,
    keys,
    provider,
    pins: stores,
    epochs: stores,
    onMemberChange: (c) => m.changes.push(c),
    onCommitRefused: (chatId, _p, reason) => m.refused.push({ chatId, reason }),
  });
  const handle = async (event: FeedEvent) => {
    try {
      const outcome = await m.client.commits.handleKeyEvent(event);
      if (outcome) m.outcomes.push(outcome);
    } catch (error) {
      m.errors.push((error as Error).message);
    }
  };
  const feed = options.follow === false ? undefined : followed(m.client.api, handle);
  // the stream's end (a refused token) is the test's to see in what it waits for, not an error here
  feed?.done.catch(() => {});
  await feed?.open;
  const { next, until } = feed ?? eventQueue();
  m.next = next;
  m.until = until;
  let closed: Promise<void> | undefined;
  m.close = () =>
    (closed ??= (async () => {
      await feed?.close().catch(() => {});
      await m.client.close();
    })());
  return m;
}

/** Logs in the named users one after another (a single address may hash only two passwords at once). */
export async function members(server: TestServer, ...names: string[]): Promise<Member[]> {
  const all: Member[] = [];
  for (const name of names) all.push(await member(server, name));
  return all;
}

/**
 * `login(...names)` for a test file on `server()`: logs the users in as {@link members}, and closes
 * them after the test that logged them in (with any the test adds to `open`).
 */
export function loginEach(server: () => TestServer): {
  login: (...names: string[]) => Promise<Member[]>;
  /** Closed after the test; a test may add members it made itself (closing one twice does nothing). */
  open: Member[];
} {
  const open: Member[] = [];
  afterEach(async () => {
    for (const m of open.splice(0)) await m.close();
  });
  const login = async (...names: string[]) => {
    const ms = await members(server(), ...names);
    open.push(...ms);
    return ms;
  };
  return { login, open };
}

/** A members-mode chat of `creator` with every one of `others` joined, at epoch 1. */
export async function chatOf(creator: Member, ...others: Member[]): Promise<string> {
  const { chat } = await creator.client.createChat(
    others.map((m) => m.username),
    { keyMode: 'members' },
  );
  for (const m of others) {
    await m.next((e) => e.type === 'chat.invited' && e.data.chat.id === chat.id);
    await m.client.join(chat.id);
  }
  return chat.id;
}

/** The latest epoch whose key `m`'s client holds for the chat (0 for none). */
export const epochOf = (m: Member, chatId: string) => m.stores.highestEpoch(chatId) ?? 0;

/** Sends `text` as `from` and waits until `to` has it, read and verified by its client. */
export async function say(from: Member, to: Member[], chatId: string, text: string): Promise<void> {
  await from.client.send(chatId, text, 'ed25519');
  for (const m of to) {
    const event = await m.next(
      (e) => e.type === 'message' && e.data.chatId === chatId && e.data.sender === from.username,
    );
    expect(await m.client.read(event.data, chatId)).toBe(text);
  }
}

/**
 * Every byte the server stored, as text a search can run over: the SQLite files (database and
 * write-ahead log), or every row of every table of the PostgreSQL database.
 */
export async function storedBytes(server: TestServer): Promise<Buffer> {
  if (BACKEND === 'sqlite') {
    const files = await readdir(server.dataDir);
    return Buffer.concat(
      await Promise.all(
        files.filter((f) => f.startsWith('securechat.db')).map((f) => readFile(path.join(server.dataDir, f))),
      ),
    );
  }
  const { DATABASE_URL } = await backendEnv(server.dataDir);
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  try {
    const { rows } = await db.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
    );
    const parts: string[] = [];
    for (const { table_name } of rows)
      parts.push(...(await db.query(`SELECT t::text AS row FROM "${table_name}" t`)).rows.map((r) => r.row));
    return Buffer.from(parts.join('\n'));
  } finally {
    await db.end();
  }
}

/** The raw chat keys of every envelope `m` holds (unwrapped here with its private key, as only it can). */
export async function rawKeysOf(m: Member, chatId: string): Promise<Buffer[]> {
  const pairs = await keyStore(m.username);
  return [...m.stores.envelopes.values()]
    .filter((e) => e.chatId === chatId)
    .map((e) => unwrapKey(pairs.encryption.privateKey, e.wrappedKey));
}

/** Whether any of `keys` is in `haystack`, as raw bytes, base64 or hex. */
export function holdsAnyKey(haystack: Buffer, keys: Buffer[]): boolean {
  return keys.some(
    (k) =>
      haystack.includes(k) ||
      haystack.includes(Buffer.from(k.toString('base64'))) ||
      haystack.includes(Buffer.from(k.toString('hex'))),
  );
}

/** The spec-validating caller of test/client.ts, with `m`'s session. */
export function specApi(server: TestServer, m: Member): SpecApi {
  const api = new SpecApi(server.url);
  api.token = m.client.api.token;
  return api;
}

/**
 * What a compromised server (or its database) can do past every check of the commit route:
 * store an epoch with `envelopes` (or a pending epoch `pending`) and send the events.
 */
export async function inject(
  server: TestServer,
  chatId: string,
  change: { envelopes?: MemberKeyEnvelope[]; pending?: PendingEpoch },
): Promise<void> {
  const { store, fanout: bus } = server.app;
  const chat = await store.getChat(chatId);
  if (!chat) throw new Error('no such chat');
  const envelopes = change.envelopes ?? [];
  const events = envelopes.length
    ? envelopes.map((e) => ({
        type: 'chat.key',
        data: JSON.stringify({ chatId, keyEnvelope: e }),
        recipients: [e.recipient],
        chatId,
      }))
    : chat.members.map((m) => ({
        type: 'chat.rekey',
        data: JSON.stringify({ chatId, pending: change.pending }),
        recipients: [m.username],
        chatId,
      }));
  const stored = await store.changeMembership({
    chatId,
    expectedEpoch: chat.epoch,
    epoch: envelopes[0]?.epoch ?? chat.epoch,
    upsert: [],
    remove: [],
    envelopes,
    events,
    pending: { expected: chat.pending ?? null, next: change.pending ?? null },
  });
  for (const e of stored)
    await bus.publish({ kind: 'event', type: e.type, data: e.data, id: e.id, to: e.recipients });
}
