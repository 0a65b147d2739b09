/**
 * SQL that makes a message's event JSON from its `messages` row `m`, byte for byte as
 * {@link messageEventData} does; `quote` makes a JSON string of a text column.
 */
function messageJson(quote: 'json_quote' | 'to_json'): string {
  const q = (column: string) =>
    quote === 'to_json' ? `to_json(m.${column})::text` : `json_quote(m.${column})`;
  const fields = [
    `'{"chatId":' || ${q('chat_id')}`,
    `',"seq":' || m.seq`,
    `',"sender":' || ${q('sender')}`,
    `',"receivedAt":' || ${q('received_at')}`,
    `',"message":{"id":' || ${q('id')}`,
    `',"epoch":' || m.epoch`,
    `',"sentAt":' || ${q('sent_at')}`,
    `',"iv":' || ${q('iv')}`,
    `',"ciphertext":' || ${q('ciphertext')}`,
    `',"tag":' || ${q('tag')}`,
    `',"signatureAlgorithm":' || ${q('sig_alg')}`,
    `',"signature":' || ${q('signature')} || '}}'`,
  ];
  return `(${fields.join(' || ')})`;
}

/**
 * Versioned schema. Migration N takes the database from version N-1 to N (SQLite `user_version`;
 * PostgreSQL keeps its version in `schema_version`). Never edit a released migration: add one, to
 * both lists, so that the two engines always hold the same tables at the same version.
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
  // 3: the chat an event concerns in its own column (replay checks membership without parsing
  // every event), the chat's latest activity (GET /chats, most recent first; not indexed: the
  // list starts from the user's memberships, and every post writes it), and the two indexes
  // pruning needs (PostgreSQL had them from the start). INTEGER is 64-bit in SQLite.
  `
  ALTER TABLE events ADD COLUMN chat_id TEXT;
  UPDATE events SET chat_id = COALESCE(json_extract(data, '$.chatId'), json_extract(data, '$.chat.id'))
    WHERE json_valid(data);
  CREATE INDEX events_by_age ON events(created_at);
  CREATE INDEX event_recipients_by_event ON event_recipients(event_id);
  ALTER TABLE chats ADD COLUMN active_at TEXT;
  UPDATE chats SET active_at = COALESCE(
    (SELECT max(received_at) FROM messages m WHERE m.chat_id = chats.id), epoch_started_at, created_at);
  `,
  // 4: one-time registration codes (POST /users), one per username: only the SHA-256 of the code
  // is kept. Times are RFC 3339 strings of one fixed format, so they compare as text.
  `
  CREATE TABLE registration_codes (
    username   TEXT PRIMARY KEY,
    code_hash  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
  );
  `,
  // 5: members-mode chats: how a chat's keys are made, the epoch waiting for a member's commit
  // (JSON; additions_since: when its additions began to wait, for the 60-second drop), and
  // envelopes wrapped and signed by a member instead of the server.
  `
  ALTER TABLE chats ADD COLUMN key_mode TEXT NOT NULL DEFAULT 'server' CHECK (key_mode IN ('server', 'members'));
  ALTER TABLE chats ADD COLUMN pending TEXT;
  ALTER TABLE chats ADD COLUMN additions_since TEXT;
  CREATE INDEX chats_by_additions_since ON chats(additions_since) WHERE additions_since IS NOT NULL;
  CREATE TABLE member_envelopes (
    chat_id     TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    recipient   TEXT NOT NULL,
    wrapped_key TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    committer   TEXT NOT NULL,
    members     TEXT NOT NULL,
    sig_alg     TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (chat_id, epoch, recipient)
  ) WITHOUT ROWID;
  `,
  // 6: each event stored once. A chat's events (to_members = 1) have no recipient rows: who
  // receives one is derived from `memberships`, each member's span of event ids (since_id, until_id]
  // in the chat. Events addressed to users keep their `event_recipients` rows. A message's event
  // keeps no copy of the message (data '' and its seq: it is made from the `messages` row when
  // read). Existing events keep their recipient rows (the spans of today's members start after
  // them); a message event's data is dropped only where it is exactly what would be made again.
  `
  ALTER TABLE events ADD COLUMN to_members INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE events ADD COLUMN seq INTEGER;
  CREATE TABLE memberships (
    chat_id  TEXT NOT NULL,
    username TEXT NOT NULL,
    since_id INTEGER NOT NULL,
    until_id INTEGER,
    PRIMARY KEY (chat_id, username, since_id)
  ) WITHOUT ROWID;
  CREATE INDEX memberships_by_user ON memberships(username, chat_id);
  INSERT INTO memberships (chat_id, username, since_id)
    SELECT chat_id, username, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0) FROM members;
  UPDATE events SET seq = m.seq, data = '' FROM messages m
    WHERE events.type = 'message' AND json_valid(events.data) AND m.chat_id = events.chat_id
      AND m.seq = json_extract(events.data, '$.seq') AND events.data = ${messageJson('json_quote')};
  CREATE INDEX events_by_chat ON events(chat_id, id) WHERE to_members = 1;
  `,
  // 7: a registration code held by the one request checking it (POST /users): until when, and by
  // which request. A holder that dies leaves it to expire; a new code for the name clears it.
  `
  ALTER TABLE registration_codes ADD COLUMN reserved_until TEXT;
  ALTER TABLE registration_codes ADD COLUMN reserved_by TEXT;
  `,
  // 8: transcript integrity (protocol.md): a version-2 message's device, its counter and the
  // latest message its device had received (prev_seq and prev_hash; both NULL for prev null),
  // stored as sent. A version-1 message has device NULL.
  `
  ALTER TABLE messages ADD COLUMN device TEXT;
  ALTER TABLE messages ADD COLUMN counter INTEGER;
  ALTER TABLE messages ADD COLUMN prev_seq INTEGER;
  ALTER TABLE messages ADD COLUMN prev_hash TEXT;
  `,
  // 9: accounts over time: removals, key changes, every session of a user, reset codes
  `
  ALTER TABLE users ADD COLUMN removed_at TEXT;
  ALTER TABLE users ADD COLUMN removal_pending INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN key_changes TEXT NOT NULL DEFAULT '[]';
  CREATE TABLE sessions (
    jti        TEXT PRIMARY KEY,
    username   TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  CREATE INDEX sessions_by_user ON sessions(username);
  CREATE TABLE reset_codes (
    username   TEXT PRIMARY KEY,
    code_hash  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
  );
  `,
  // 10: accounts over time: a user's session generation, moved on by every revocation of their
  // sessions; a login records its session only under the generation it read before its password check
  `
  ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;
  `,
  // 11: a key change whose new epochs are not all made yet (a chat's rekey failed): the jobs retry
  `
  ALTER TABLE users ADD COLUMN rekey_pending INTEGER NOT NULL DEFAULT 0;
  `,
];

/**
 * The same schema for PostgreSQL. Differences are only where the engines differ: text compares
 * byte by byte (COLLATE "C", as SQLite does), and event ids come from one counter row updated in
 * the transaction that stores the events. Its row lock makes ids gapless and committed in order
 * across every instance, which is what lets Last-Event-ID mean "everything up to here".
 */
export const PG_MIGRATIONS: string[] = [
  `
  CREATE TABLE users (
    username      TEXT COLLATE "C" PRIMARY KEY,
    password_hash TEXT NOT NULL,
    keys          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen     TEXT
  );
  CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
  );
  CREATE TABLE chats (
    id         TEXT COLLATE "C" PRIMARY KEY,
    epoch      INTEGER NOT NULL,
    next_seq   INTEGER NOT NULL DEFAULT 1,
    created_by TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
  );
  CREATE TABLE members (
    chat_id     TEXT COLLATE "C" NOT NULL REFERENCES chats(id),
    username    TEXT COLLATE "C" NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('invited', 'joined')),
    since_epoch INTEGER NOT NULL,
    PRIMARY KEY (chat_id, username)
  );
  CREATE INDEX members_by_user ON members(username);
  CREATE TABLE envelopes (
    chat_id          TEXT NOT NULL,
    epoch            INTEGER NOT NULL,
    recipient        TEXT NOT NULL,
    wrapped_key      TEXT NOT NULL,
    issued_at        TEXT NOT NULL,
    server_signature TEXT NOT NULL,
    PRIMARY KEY (chat_id, epoch, recipient)
  );
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
  );
  CREATE UNIQUE INDEX messages_unique_id ON messages(chat_id, id_lower);
  CREATE TABLE events (
    id         BIGINT PRIMARY KEY,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
  );
  CREATE INDEX events_by_age ON events(created_at);
  CREATE TABLE event_recipients (
    username TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (username, event_id)
  );
  CREATE INDEX event_recipients_by_event ON event_recipients(event_id);
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  INSERT INTO meta (key, value) VALUES ('events_pruned_through', '0');
  CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
  );
  INSERT INTO counters (name, value) VALUES ('event_id', 0);
  `,
  `
  ALTER TABLE chats ADD COLUMN epoch_started_at TEXT COLLATE "C";
  ALTER TABLE chats ADD COLUMN epoch_messages INTEGER NOT NULL DEFAULT 0;
  UPDATE chats SET epoch_started_at = created_at;
  CREATE INDEX chats_by_epoch_start ON chats(epoch_started_at);
  `,
  // 3: seq is BIGINT (the protocol allows `after` up to 2^53-1; rewriting `messages` takes about
  // 1 s per 100k rows under its lock); the rest as SQLite's 3, less its indexes. Every fill is one
  // set-based statement: a subquery per chat would compare chats.id (COLLATE "C") with
  // messages.chat_id (default collation), miss the index and scan `messages` once per chat.
  `
  ALTER TABLE chats ALTER COLUMN next_seq TYPE BIGINT;
  ALTER TABLE messages ALTER COLUMN seq TYPE BIGINT;
  ALTER TABLE events ADD COLUMN chat_id TEXT;
  UPDATE events SET chat_id = COALESCE(data::jsonb->>'chatId', data::jsonb->'chat'->>'id');
  ALTER TABLE chats ADD COLUMN active_at TEXT COLLATE "C";
  UPDATE chats c SET active_at = x.at
    FROM (SELECT chat_id COLLATE "C" AS chat_id, max(received_at) AS at FROM messages GROUP BY 1) x
    WHERE c.id = x.chat_id;
  UPDATE chats SET active_at = COALESCE(epoch_started_at, created_at) WHERE active_at IS NULL;
  `,
  // 4: as SQLite's 4
  `
  CREATE TABLE registration_codes (
    username   TEXT COLLATE "C" PRIMARY KEY,
    code_hash  TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    used_at    TEXT COLLATE "C"
  );
  `,
  // 5: as SQLite's 5 (members-mode chats)
  `
  ALTER TABLE chats ADD COLUMN key_mode TEXT NOT NULL DEFAULT 'server' CHECK (key_mode IN ('server', 'members'));
  ALTER TABLE chats ADD COLUMN pending TEXT;
  ALTER TABLE chats ADD COLUMN additions_since TEXT COLLATE "C";
  CREATE INDEX chats_by_additions_since ON chats(additions_since) WHERE additions_since IS NOT NULL;
  CREATE TABLE member_envelopes (
    chat_id     TEXT NOT NULL,
    epoch       INTEGER NOT NULL,
    recipient   TEXT NOT NULL,
    wrapped_key TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    committer   TEXT NOT NULL,
    members     TEXT NOT NULL,
    sig_alg     TEXT NOT NULL,
    signature   TEXT NOT NULL,
    PRIMARY KEY (chat_id, epoch, recipient)
  );
  `,
  // 6: as SQLite's 6. Instances of the previous release may still post through
  // securechat_append_message_v2 meanwhile: their events are addressed, which this release reads.
  `
  ALTER TABLE events ADD COLUMN to_members BOOLEAN NOT NULL DEFAULT false;
  ALTER TABLE events ADD COLUMN seq BIGINT;
  CREATE TABLE memberships (
    chat_id  TEXT NOT NULL,
    username TEXT NOT NULL,
    since_id BIGINT NOT NULL,
    until_id BIGINT,
    PRIMARY KEY (chat_id, username, since_id)
  );
  CREATE INDEX memberships_by_user ON memberships(username, chat_id);
  INSERT INTO memberships (chat_id, username, since_id)
    SELECT chat_id, username, (SELECT value FROM counters WHERE name = 'event_id') FROM members;
  UPDATE events e SET seq = m.seq, data = '' FROM messages m
    WHERE e.type = 'message' AND e.chat_id IS NOT NULL AND m.chat_id = e.chat_id
      AND m.seq = substring(e.data from '"seq":([0-9]{1,15})[,}]')::bigint
      AND e.data = ${messageJson('to_json')};
  CREATE INDEX events_by_chat ON events(chat_id, id) WHERE to_members;
  -- An instance of the previous release changes \`members\` alone: a member it adds or removes
  -- starts or ends a span here, at the latest event id (the chat's row is locked by then, so no
  -- event of the chat comes between); the spans this release moves itself are already moved.
  CREATE FUNCTION securechat_member_span() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      UPDATE memberships SET until_id = (SELECT value FROM counters WHERE name = 'event_id')
        WHERE chat_id = OLD.chat_id AND username = OLD.username AND until_id IS NULL;
      RETURN OLD;
    END IF;
    INSERT INTO memberships (chat_id, username, since_id)
      SELECT NEW.chat_id, NEW.username, value FROM counters WHERE name = 'event_id'
        AND NOT EXISTS (SELECT 1 FROM memberships s
                        WHERE s.chat_id = NEW.chat_id AND s.username = NEW.username AND s.until_id IS NULL)
      ON CONFLICT (chat_id, username, since_id) DO UPDATE SET until_id = NULL;
    RETURN NEW;
  END
  $fn$;
  CREATE TRIGGER members_span AFTER INSERT OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION securechat_member_span();
  `,
  // 7: as SQLite's 7
  `
  ALTER TABLE registration_codes ADD COLUMN reserved_until TEXT COLLATE "C";
  ALTER TABLE registration_codes ADD COLUMN reserved_by TEXT;
  `,
  // 8: as SQLite's 8 (counter up to 2^53-1: BIGINT). Nullable columns with no default: adding
  // them rewrites nothing. Instances of the previous release post through
  // securechat_append_message_v4, which stores version-1 messages (device NULL) as before.
  `
  ALTER TABLE messages ADD COLUMN device TEXT;
  ALTER TABLE messages ADD COLUMN counter BIGINT;
  ALTER TABLE messages ADD COLUMN prev_seq BIGINT;
  ALTER TABLE messages ADD COLUMN prev_hash TEXT;
  `,
  // 9: as SQLite's 9 (accounts over time)
  `
  ALTER TABLE users ADD COLUMN removed_at TEXT COLLATE "C";
  ALTER TABLE users ADD COLUMN removal_pending BOOLEAN NOT NULL DEFAULT false;
  ALTER TABLE users ADD COLUMN key_changes TEXT NOT NULL DEFAULT '[]';
  CREATE TABLE sessions (
    jti        TEXT PRIMARY KEY,
    username   TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX sessions_by_user ON sessions(username);
  CREATE TABLE reset_codes (
    username   TEXT COLLATE "C" PRIMARY KEY,
    code_hash  TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    used_at    TEXT COLLATE "C"
  );
  `,
  // 10: as SQLite's 10 (a user's session generation)
  `
  ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;
  `,
  // 11: as SQLite's 11 (a key change's new epochs still to make)
  `
  ALTER TABLE users ADD COLUMN rekey_pending BOOLEAN NOT NULL DEFAULT false;
  `,
];
