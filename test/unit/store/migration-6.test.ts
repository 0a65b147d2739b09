import { rm } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../src/store/migrations.js';
import { openSqliteStore } from '../../../src/store/sqlite.js';
import type { Store } from '../../../src/store/types.js';
import { tempDir } from '../../support/helper.js';
import {
  AT,
  expectNewEventsStoredOnce,
  expectOldEventsReplayed,
  MIGRATED_MESSAGE_ROWS,
  message,
  OLD_EVENTS,
} from '../../support/store-events-once.js';

/** A database at schema v3 (before events were stored once) holding the old chat c1. */
function oldDatabase(file: string): void {
  const db = new Database(file);
  for (const [i, sql] of MIGRATIONS.slice(0, 3).entries()) {
    db.exec(sql);
    db.pragma(`user_version = ${i + 1}`);
  }
  db.prepare(
    `INSERT INTO chats (id, epoch, next_seq, created_by, created_at, epoch_started_at, active_at)
     VALUES ('c1', 1, 4, 'alice', ?, ?, ?)`,
  ).run(AT, AT, AT);
  const member = db.prepare(
    "INSERT INTO members (chat_id, username, state, since_epoch) VALUES ('c1', ?, 'joined', 1)",
  );
  for (const u of ['alice', 'bob']) member.run(u);
  const insertMessage = db.prepare(
    `INSERT INTO messages (chat_id, seq, id, id_lower, sender, epoch, sent_at, iv, ciphertext, tag, sig_alg,
       signature, received_at) VALUES ('c1', ?, ?, ?, 'alice', 1, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const seq of [1, 2, 3]) {
    const { message: m } = message(seq);
    insertMessage.run(seq, m.id, m.id, AT, m.iv, m.ciphertext, m.tag, m.signatureAlgorithm, m.signature, AT);
  }
  const event = db.prepare("INSERT INTO events (type, data, created_at, chat_id) VALUES (?, ?, ?, 'c1')");
  const to = db.prepare('INSERT INTO event_recipients (username, event_id) VALUES (?, ?)');
  for (const [type, data, recipients] of OLD_EVENTS) {
    const id = Number(event.run(type, data, AT).lastInsertRowid);
    for (const u of recipients) to.run(u, id);
  }
  db.close();
}

describe('migration 6: each event stored once', () => {
  let dir: string;
  let file: string;
  let store: Store;
  beforeEach(async () => {
    dir = await tempDir();
    file = path.join(dir, 'securechat.db');
    oldDatabase(file);
    store = openSqliteStore(dir);
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every existing event replayable, to exactly its recipients, byte for byte', async () => {
    await expectOldEventsReplayed(store);
  });

  it('drops the copy of each message that would be made again, and only those', async () => {
    const db = new Database(file, { readonly: true });
    const rows = db.prepare("SELECT id, data, seq FROM events WHERE type = 'message' ORDER BY id").all();
    const spans = db.prepare('SELECT * FROM memberships ORDER BY username').all();
    db.close();
    expect(rows).toEqual(MIGRATED_MESSAGE_ROWS);
    // today's members receive the chat's events from here on; the old ones keep their rows
    expect(spans).toEqual([
      { chat_id: 'c1', username: 'alice', since_id: 4, until_id: null },
      { chat_id: 'c1', username: 'bob', since_id: 4, until_id: null },
    ]);
  });

  it('stores a new message once, for the members at the time, and a later member never gets it', async () => {
    await expectNewEventsStoredOnce(store);
  });
});
