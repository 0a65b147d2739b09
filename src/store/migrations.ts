/**
 * Versioned schema. Migration N takes the database from version N-1 to N (SQLite `user_version`;
 * a PostgreSQL adapter keeps the same list in a table). Never edit a released migration: add one.
 */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE users (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    keys          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen     TEXT
  );
  CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  );
  CREATE TABLE chats (
    id         TEXT PRIMARY KEY,
    epoch      INTEGER NOT NULL,
    next_seq   INTEGER NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE members (
    chat_id     TEXT NOT NULL REFERENCES chats(id),
    username    TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('invited', 'joined')),
    since_epoch INTEGER NOT NULL,
    PRIMARY KEY (chat_id, username)
  ) WITHOUT ROWID;
  CREATE INDEX members_by_user ON members(username);
  CREATE TABLE envelopes (
    chat_id          TEXT NOT NULL,
    epoch            INTEGER NOT NULL,
    recipient        TEXT NOT NULL,
    wrapped_key      TEXT NOT NULL,
    issued_at        TEXT NOT NULL,
    server_signature TEXT NOT NULL,
    PRIMARY KEY (chat_id, epoch, recipient)
  ) WITHOUT ROWID;
  CREATE TABLE messages (
    chat_id     TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    id          TEXT NOT NULL,
    id_lower    TEXT NOT NULL,
    sender      TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    sent_at     TEXT NOT NULL,
    iv          TEXT NOT NULL,
    ciphertext  TEXT NOT NULL,
    tag         TEXT NOT NULL,
    sig_alg     TEXT NOT NULL,
    signature   TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, seq)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX messages_unique_id ON messages(chat_id, id_lower);
  CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE event_recipients (
    username TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    PRIMARY KEY (username, event_id)
  ) WITHOUT ROWID;
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  INSERT INTO meta (key, value) VALUES ('events_pruned_through', '0');
  `,
  `
  ALTER TABLE chats ADD COLUMN epoch_started_at TEXT;
  ALTER TABLE chats ADD COLUMN epoch_messages INTEGER NOT NULL DEFAULT 0;
  UPDATE chats SET epoch_started_at = created_at;
  CREATE INDEX chats_by_epoch_start ON chats(epoch_started_at);
  `,
];
