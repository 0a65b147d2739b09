import { type AnyKeyEnvelope, isMemberEnvelope } from '../../client/members.js';
import type { MembershipWrites } from '../membership.js';
import type { NewEvent, StoredEvent } from '../message-types.js';
import { audience, pendingText, type Row } from '../rows.js';
import type { Statements } from './statements.js';

/** SQLite's writes of a change of members (membership.ts runs them, inside `db.transaction`). */

export function latestEventId(q: Statements): number {
  return ((q.latestEvent.get() as Row | undefined)?.latest as number | undefined) ?? 0;
}

export function memberNames(q: Statements, chatId: string): string[] {
  return (q.memberNames.all(chatId) as Row[]).map((r) => r.username as string);
}

function insertEnvelopes(q: Statements, envelopes: AnyKeyEnvelope[]): void {
  for (const e of envelopes) {
    if (isMemberEnvelope(e))
      q.insertMemberEnvelope.run(
        e.chatId,
        e.epoch,
        e.recipient,
        e.wrappedKey,
        e.issuedAt,
        e.committer,
        JSON.stringify(e.members),
        e.signatureAlgorithm,
        e.signature,
      );
    else q.insertEnvelope.run(e.chatId, e.epoch, e.recipient, e.wrappedKey, e.issuedAt, e.serverSignature);
  }
}

/**
 * Stores events after the change to the chat's members (made in this transaction): a chat's
 * event once, for the members as they are now, plus rows for anyone else it names.
 */
function insertEvents(q: Statements, events: NewEvent[], now: string): StoredEvent[] {
  const members = new Map<string, string[]>();
  const membersOf = (chatId: string) => {
    if (!members.has(chatId)) members.set(chatId, memberNames(q, chatId));
    return members.get(chatId) as string[];
  };
  return events.map((event) => {
    const { recipients, addressed } = audience(event, () => membersOf(event.chatId as string));
    const { type, data, chatId, toMembers } = event;
    const id = Number(
      q.insertEvent.run(type, data, now, chatId ?? null, toMembers ? 1 : 0, null).lastInsertRowid,
    );
    for (const username of addressed) q.insertRecipient.run(username, id);
    return { ...event, recipients, id };
  });
}

/** `recipients` is told of every change of a chat's members (src/store/sqlite/recipients.ts). */
export function sqliteWrites(q: Statements, recipients: { forget(chatId: string): void }): MembershipWrites {
  return {
    insertChat(chat) {
      const at = chat.createdAt;
      q.insertChat.run(
        chat.id,
        chat.epoch,
        chat.createdBy,
        at,
        at,
        at,
        chat.keyMode ?? 'server',
        pendingText(chat.pending),
        chat.pending?.additionsSince ?? null,
      );
    },
    setEpoch(chatId, epoch, expected, now) {
      return q.setEpoch.run({ epoch, id: chatId, expected, now }).changes === 1;
    },
    setPending(chatId, { next, expected }) {
      const set = q.setPending.run({
        id: chatId,
        next: pendingText(next),
        since: next?.additionsSince ?? null,
        expected: pendingText(expected),
      });
      return set.changes === 1;
    },
    removeMembers(chatId, usernames) {
      recipients.forget(chatId);
      for (const username of usernames) q.removeMember.run(chatId, username);
    },
    upsertMembers(chatId, members) {
      recipients.forget(chatId);
      for (const m of members) q.upsertMember.run(chatId, m.username, m.state, m.sinceEpoch);
    },
    insertEnvelopes: (envelopes) => insertEnvelopes(q, envelopes),
    insertEvents: (events, now) => insertEvents(q, events, now),
    latestEventId: () => latestEventId(q),
    moveSpans(chatId, added, removed, base) {
      for (const username of removed) q.closeSpan.run({ chat: chatId, username, base });
      for (const username of added) q.openSpan.run({ chat: chatId, username, base });
    },
  };
}
