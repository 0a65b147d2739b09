import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import {
  Api,
  buildCommit,
  Client,
  type CommitBody,
  type CommitOutcome,
  type FeedEvent,
  follow,
  importPrivatePem,
  importUserKeys,
  type MemberChange,
  type MemberKeyEnvelope,
  MemoryStores,
} from '../../src/client/index.js';
import { nodeSignatures } from '../../src/client/node/index.js';
import { unwrapKey } from '../../src/crypto/envelope.js';
import type { PendingEpoch } from '../../src/store/types.js';
import { keyStore } from '../client/support.js';
import { BACKEND, backendEnv } from '../support/backend.js';
import { Api as SpecApi } from '../support/client.js';
import { PASSWORD, type TestServer } from '../support/helper.js';

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
  const events: FeedEvent[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  const abort = new AbortController();
  let done: Promise<void> = Promise.resolve();
  if (options.follow !== false) {
    let connected!: () => void;
    const open = new Promise<void>((resolve) => (connected = resolve));
    done = follow(
      m.client.api,
      {
        onEvent: async (event) => {
          try {
            const outcome = await m.client.handleKeyEvent(event);
            if (outcome) m.outcomes.push(outcome);
          } catch (error) {
            m.errors.push((error as Error).message);
          }
          events.push(event);
          wake();
        },
        onStatus: (status) => status === 'connected' && connected(),
      },
      abort.signal,
    ).catch(() => {});
    await open;
  }
  m.next = async (match) => {
    for (;;) {
      const found = events.find(match);
      if (found) {
        events.splice(events.indexOf(found), 1);
        return found;
      }
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  m.until = async (check) => {
    while (!check()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  m.close = async () => {
    abort.abort();
    await done;
    await m.client.close();
  };
  return m;
}

/** Logs in the named users one after another (a single address may hash only two passwords at once). */
export async function members(server: TestServer, ...names: string[]): Promise<Member[]> {
  const all: Member[] = [];
  for (const name of names) all.push(await member(server, name));
  return all;
}

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
 * Member envelopes for `members` of epoch `epoch`, signed with `signer`'s own keys but naming
 * `committer`: what a forger (a compromised server, a member who left) could make.
 */
export async function forgeEnvelopes(
  signer: string,
  chatId: string,
  epoch: number,
  members: string[],
  committer = signer,
): Promise<{ body: CommitBody; envelopes: MemberKeyEnvelope[] }> {
  const provider = nodeSignatures();
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
