import type Database from 'better-sqlite3';
import { JOIN_MESSAGE, JOINED_MESSAGE } from '../rows.js';

/** Every statement of the SQLite adapter, prepared once when the store opens. */
export function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    ping: p('SELECT 1'),
    claim: p('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)'),
    meta: p('SELECT value FROM meta WHERE key = ?'),
    insertUser: p(
      'INSERT INTO users (username, password_hash, keys, created_at, last_seen) VALUES (?, ?, ?, ?, ?)',
    ),
    getUser: p('SELECT * FROM users WHERE username = ?'),
    listUsers: p('SELECT username, last_seen FROM users ORDER BY username'),
    setLastSeen: p('UPDATE users SET last_seen = ? WHERE username = ?'),
    replaceHash: p('UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?'),
    revoke: p('INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?, ?)'),
    isRevoked: p('SELECT 1 FROM revoked_tokens WHERE jti = ?'),
    insertChat: p(
      `INSERT INTO chats (id, epoch, created_by, created_at, epoch_started_at, active_at, key_mode, pending,
         additions_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    setPending: p(
      'UPDATE chats SET pending = @next, additions_since = @since WHERE id = @id AND pending IS @expected',
    ),
    pendingEpochs: p('SELECT COUNT(*) AS n FROM chats WHERE pending IS NOT NULL'),
    staleAdditions: p('SELECT id FROM chats WHERE additions_since < ? ORDER BY additions_since LIMIT ?'),
    getChat: p('SELECT * FROM chats WHERE id = ?'),
    chatEpoch: p('SELECT epoch, next_seq, epoch_messages, pending FROM chats WHERE id = ?'),
    setEpoch: p(
      `UPDATE chats SET epoch = @epoch,
         epoch_started_at = CASE WHEN @epoch = @expected THEN epoch_started_at ELSE @now END,
         epoch_messages = CASE WHEN @epoch = @expected THEN epoch_messages ELSE 0 END,
         active_at = max(COALESCE(active_at, ''), @now)
       WHERE id = @id AND epoch = @expected`,
    ),
    dueForRotation: p(
      // a pending epoch that only adds (chat-types.ts addsOnly) does not hold the rotation back
      `SELECT id, epoch FROM chats c WHERE epoch_started_at < ?
         AND (pending IS NULL OR (json_extract(pending, '$.reason') = 'invite' AND json_array_length(pending, '$.removed') = 0))
         AND EXISTS (SELECT 1 FROM members m WHERE m.chat_id = c.id)
       ORDER BY epoch_started_at LIMIT ?`,
    ),
    members: p(
      'SELECT username, state, since_epoch FROM members WHERE chat_id = ? ORDER BY since_epoch, username',
    ),
    member: p('SELECT state FROM members WHERE chat_id = ? AND username = ?'),
    membership: p(
      `SELECT c.epoch, c.pending, m.state, m.since_epoch FROM chats c
       JOIN members m ON m.chat_id = c.id WHERE c.id = ? AND m.username = ?`,
    ),
    chatsOf: p(
      // a chat made by an instance of the previous release has no active_at: its creation
      `SELECT c.*, COALESCE(c.active_at, c.created_at) AS active FROM chats c JOIN members m ON m.chat_id = c.id
       WHERE m.username = @username
         AND (@activeAt IS NULL OR (COALESCE(c.active_at, c.created_at), c.id) < (@activeAt, @id))
         AND (@since IS NULL
              OR EXISTS (SELECT 1 FROM memberships s JOIN events e ON e.chat_id = s.chat_id AND e.to_members = 1
                           AND e.id > max(s.since_id, @since) AND (s.until_id IS NULL OR e.id <= s.until_id)
                         WHERE s.username = @username AND s.chat_id = c.id)
              OR c.id IN (SELECT e.chat_id FROM event_recipients r JOIN events e ON e.id = r.event_id
                          WHERE r.username = @username AND r.event_id > @since))
       ORDER BY active DESC, c.id DESC LIMIT @limit`,
    ),
    countJoinedChats: p("SELECT count(*) AS n FROM members WHERE username = ? AND state = 'joined'"),
    chatIdsOf: p('SELECT chat_id FROM members WHERE username = ?'),
    upsertMember: p(
      `INSERT INTO members (chat_id, username, state, since_epoch) VALUES (?, ?, ?, ?)
       ON CONFLICT (chat_id, username) DO UPDATE SET state = excluded.state`,
    ),
    removeMember: p('DELETE FROM members WHERE chat_id = ? AND username = ?'),
    insertEnvelope: p(
      `INSERT INTO envelopes (chat_id, epoch, recipient, wrapped_key, issued_at, server_signature)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    getEnvelope: p('SELECT * FROM envelopes WHERE chat_id = ? AND epoch = ? AND recipient = ?'),
    insertMemberEnvelope: p(
      `INSERT INTO member_envelopes (chat_id, epoch, recipient, wrapped_key, issued_at, committer, members,
         sig_alg, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getMemberEnvelope: p('SELECT * FROM member_envelopes WHERE chat_id = ? AND epoch = ? AND recipient = ?'),
    insertMessage: p(
      `INSERT INTO messages (chat_id, seq, id, id_lower, sender, epoch, sent_at, iv, ciphertext, tag,
         sig_alg, signature, received_at, device, counter, prev_seq, prev_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    bumpSeq: p(
      // active_at never goes back (times are taken before the commit)
      `UPDATE chats SET next_seq = next_seq + 1, epoch_messages = epoch_messages + 1,
         active_at = max(COALESCE(active_at, ''), ?) WHERE id = ?`,
    ),
    listMessages: p(
      `SELECT * FROM messages WHERE chat_id = ? AND seq > ? AND epoch >= ? ORDER BY seq LIMIT ?`,
    ),
    insertEvent: p(
      'INSERT INTO events (type, data, created_at, chat_id, to_members, seq) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    insertRecipient: p('INSERT INTO event_recipients (username, event_id) VALUES (?, ?)'),
    memberNames: p('SELECT username FROM members WHERE chat_id = ?'),
    // a member's span of the chat's events: (since_id, until_id]
    openSpan: p(
      `INSERT INTO memberships (chat_id, username, since_id) SELECT @chat, @username, @base
       WHERE NOT EXISTS (SELECT 1 FROM memberships WHERE chat_id = @chat AND username = @username AND until_id IS NULL)
       ON CONFLICT (chat_id, username, since_id) DO UPDATE SET until_id = NULL`,
    ),
    closeSpan: p(
      'UPDATE memberships SET until_id = @base WHERE chat_id = @chat AND username = @username AND until_id IS NULL',
    ),
    // ids in (@after, @to]: the chat's events within the user's spans, and those addressed to them
    eventsAfter: p(
      `SELECT e.id, e.type, e.data, e.chat_id, ${JOINED_MESSAGE} FROM (
         SELECT e.id FROM memberships s JOIN events e ON e.chat_id = s.chat_id AND e.to_members = 1
           AND e.id > max(s.since_id, @after) AND e.id <= min(COALESCE(s.until_id, @to), @to)
         WHERE s.username = @username
         UNION
         SELECT event_id FROM event_recipients WHERE username = @username AND event_id > @after AND event_id <= @to
         ORDER BY 1 LIMIT @limit
       ) x JOIN events e ON e.id = x.id ${JOIN_MESSAGE} ORDER BY e.id`,
    ),
    eventsBetween: p(
      `SELECT e.id, e.type, e.data, e.chat_id, ${JOINED_MESSAGE}, (SELECT json_group_array(username) FROM (
           SELECT r.username FROM event_recipients r WHERE r.event_id = e.id
           UNION ALL
           SELECT s.username FROM memberships s WHERE e.to_members = 1 AND s.chat_id = e.chat_id
             AND s.since_id < e.id AND (s.until_id IS NULL OR s.until_id >= e.id))) AS recipients
       FROM events e ${JOIN_MESSAGE} WHERE e.id BETWEEN ? AND ? ORDER BY e.id`,
    ),
    latestEvent: p("SELECT seq AS latest FROM sqlite_sequence WHERE name = 'events'"),
    prunedThrough: p("SELECT value FROM meta WHERE key = 'events_pruned_through'"),
    // the oldest events first, a batch at a time (ids grow with time)
    lastEventBefore: p(
      'SELECT max(id) AS id FROM (SELECT id FROM events WHERE created_at < ? ORDER BY id LIMIT ?)',
    ),
    pruneRecipients: p('DELETE FROM event_recipients WHERE event_id <= ?'),
    // a span that ended there can match no event left
    pruneSpans: p('DELETE FROM memberships WHERE until_id <= ?'),
    pruneEvents: p('DELETE FROM events WHERE id <= ?'),
    setPrunedThrough: p("UPDATE meta SET value = ? WHERE key = 'events_pruned_through'"),
    pruneRevoked: p('DELETE FROM revoked_tokens WHERE expires_at < ?'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
