import { type AnyKeyEnvelope, isMemberEnvelope } from '../../client/members.js';
import type { KeyEnvelope } from '../../crypto/envelope.js';
import type { MemberRecord } from '../chat-types.js';
import type { MembershipWrites } from '../membership.js';
import type { NewEvent, StoredEvent } from '../message-types.js';
import { audience, pendingText } from '../rows.js';
import type { Client } from './pool.js';
import * as db from './pool.js';

/** PostgreSQL's writes of a change of members (membership.ts runs them, inside one transaction). */
export function postgresWrites(client: Client): MembershipWrites {
  return {
    async insertChat(chat) {
      await client.query(
        `INSERT INTO chats (id, epoch, created_by, created_at, epoch_started_at, active_at, key_mode, pending,
           additions_since) VALUES ($1, $2, $3, $4, $4, $4, $5, $6, $7)`,
        [
          chat.id,
          chat.epoch,
          chat.createdBy,
          chat.createdAt,
          chat.keyMode ?? 'server',
          pendingText(chat.pending),
          chat.pending?.additionsSince ?? null,
        ],
      );
    },
    async setEpoch(chatId, epoch, expected, now) {
      const { rowCount } = await client.query(
        `UPDATE chats SET epoch = $1,
           epoch_started_at = CASE WHEN $1 = $2 THEN epoch_started_at ELSE $3 END,
           epoch_messages = CASE WHEN $1 = $2 THEN epoch_messages ELSE 0 END,
           active_at = GREATEST(active_at, $3)
         WHERE id = $4 AND epoch = $2`,
        [epoch, expected, now, chatId],
      );
      return rowCount === 1;
    },
    async setPending(chatId, { next, expected }) {
      const set = await client.query(
        'UPDATE chats SET pending = $1, additions_since = $2 WHERE id = $3 AND pending IS NOT DISTINCT FROM $4',
        [pendingText(next), next?.additionsSince ?? null, chatId, pendingText(expected)],
      );
      return set.rowCount === 1;
    },
    async removeMembers(chatId, usernames) {
      if (usernames.length > 0) {
        await client.query('DELETE FROM members WHERE chat_id = $1 AND username = ANY($2)', [
          chatId,
          usernames,
        ]);
      }
    },
    upsertMembers: (chatId, members) => upsertMembers(client, chatId, members),
    insertEnvelopes: (envelopes) => insertEnvelopes(client, envelopes),
    insertEvents: (events, now) => insertEvents(client, events, now),
    // the counter row locked until commit, like any change that stores events
    latestEventId: async () => (await takeEventIds(client, 0)) - 1,
    async moveSpans(chatId, added, removed, base) {
      if (removed.length > 0) {
        await client.query(
          'UPDATE memberships SET until_id = $3 WHERE chat_id = $1 AND username = ANY($2) AND until_id IS NULL',
          [chatId, removed, base],
        );
      }
      if (added.length > 0) {
        await client.query(
          `INSERT INTO memberships (chat_id, username, since_id)
           SELECT $1, u, $3 FROM unnest($2::text[]) AS u
           WHERE NOT EXISTS (SELECT 1 FROM memberships s WHERE s.chat_id = $1 AND s.username = u AND s.until_id IS NULL)
           ON CONFLICT (chat_id, username, since_id) DO UPDATE SET until_id = NULL`,
          [chatId, added, base],
        );
      }
    },
  };
}

async function upsertMembers(client: Client, chatId: string, members: MemberRecord[]): Promise<void> {
  if (members.length === 0) return;
  await client.query(
    `INSERT INTO members (chat_id, username, state, since_epoch)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[])
     ON CONFLICT (chat_id, username) DO UPDATE SET state = excluded.state`,
    [chatId, members.map((m) => m.username), members.map((m) => m.state), members.map((m) => m.sinceEpoch)],
  );
}

async function insertEnvelopes(client: Client, all: AnyKeyEnvelope[]): Promise<void> {
  const byMembers = all.filter(isMemberEnvelope);
  if (byMembers.length > 0) {
    await client.query(
      `INSERT INTO member_envelopes (chat_id, epoch, recipient, wrapped_key, issued_at, committer, members,
         sig_alg, signature)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
         $8::text[], $9::text[])`,
      [
        byMembers.map((e) => e.chatId),
        byMembers.map((e) => e.epoch),
        byMembers.map((e) => e.recipient),
        byMembers.map((e) => e.wrappedKey),
        byMembers.map((e) => e.issuedAt),
        byMembers.map((e) => e.committer),
        byMembers.map((e) => JSON.stringify(e.members)),
        byMembers.map((e) => e.signatureAlgorithm),
        byMembers.map((e) => e.signature),
      ],
    );
  }
  const envelopes = all.filter((e): e is KeyEnvelope => !isMemberEnvelope(e));
  if (envelopes.length === 0) return;
  await client.query(
    `INSERT INTO envelopes (chat_id, epoch, recipient, wrapped_key, issued_at, server_signature)
     SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])`,
    [
      envelopes.map((e) => e.chatId),
      envelopes.map((e) => e.epoch),
      envelopes.map((e) => e.recipient),
      envelopes.map((e) => e.wrappedKey),
      envelopes.map((e) => e.issuedAt),
      envelopes.map((e) => e.serverSignature),
    ],
  );
}

/**
 * Takes `count` event ids from the counter row. Called last in a transaction: the row stays
 * locked until commit, so ids are handed out and committed in one order across all instances.
 */
async function takeEventIds(client: Client, count: number): Promise<number> {
  const [row] = await db.rows(
    client,
    "UPDATE counters SET value = value + $1 WHERE name = 'event_id' RETURNING value",
    [count],
  );
  return (row.value as number) - count + 1;
}

/**
 * Stores events after the change to the chat's members (made in this transaction): a chat's
 * event once, for the members as they are now, plus rows for anyone else it names.
 */
async function insertEvents(client: Client, events: NewEvent[], createdAt: string): Promise<StoredEvent[]> {
  if (events.length === 0) return [];
  // the members of each chat a chat's event concerns, read once
  const members = new Map<string, string[]>();
  for (const { chatId, toMembers } of events) {
    if (!toMembers || chatId === undefined || members.has(chatId)) continue;
    const rows = await db.rows(client, 'SELECT username FROM members WHERE chat_id = $1', [chatId]);
    members.set(
      chatId,
      rows.map((r) => r.username as string),
    );
  }
  const audiences = events.map((event) => audience(event, () => members.get(event.chatId as string) ?? []));
  const first = await takeEventIds(client, events.length);
  const stored = events.map((event, i) => ({
    ...event,
    recipients: audiences[i].recipients,
    id: first + i,
  }));
  await client.query(
    `INSERT INTO events (id, type, data, created_at, chat_id, to_members)
     SELECT id, type, data, $4, chat_id, to_members
     FROM unnest($1::bigint[], $2::text[], $3::text[], $5::text[], $6::boolean[]) AS e(id, type, data, chat_id, to_members)`,
    [
      stored.map((e) => e.id),
      stored.map((e) => e.type),
      stored.map((e) => e.data),
      createdAt,
      stored.map((e) => e.chatId ?? null),
      stored.map((e) => e.toMembers === true),
    ],
  );
  const pairs = stored.flatMap((e, i) => audiences[i].addressed.map((username) => [username, e.id] as const));
  if (pairs.length > 0) {
    await client.query(
      'INSERT INTO event_recipients (username, event_id) SELECT * FROM unnest($1::text[], $2::bigint[])',
      [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    );
  }
  return stored;
}
