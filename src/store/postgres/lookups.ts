import type pg from 'pg';
import { blocksPosting, type ChatStore, type MemberRecord } from '../chat-types.js';
import { groupCommit } from '../group-commit.js';
import { toPending } from '../rows.js';
import { rows } from './pool.js';

type Membership = Awaited<ReturnType<ChatStore['membership']>>;

/** Lookups asked in one batch at most (each is one element of an array parameter). */
const LOOKUP_BATCH = 256;

/**
 * The two reads every post makes before its append, batched as appends are (group-commit.ts): the
 * checks asked while the last batch was on its way go to the database together, in one statement.
 * Each check's statement is sent after the check was asked, so it sees everything committed before
 * (a revocation, a departure) exactly as a statement of its own would: only the round trips are
 * shared. A failure of the statement fails every check of its batch.
 */
export function batchedLookups(pool: pg.Pool) {
  const revoked = groupCommit(async (jtis: string[]) => {
    const found = await rows(pool, {
      name: 'securechat_revoked_v1',
      text: 'SELECT jti FROM revoked_tokens WHERE jti = ANY($1::text[])',
      values: [jtis],
    });
    const set = new Set(found.map((r) => r.jti as string));
    return jtis.map((jti) => ({ ok: true as const, value: set.has(jti) }));
  }, LOOKUP_BATCH);

  const membership = groupCommit(async (keys: { chatId: string; username: string }[]) => {
    const found = await rows(pool, {
      name: 'securechat_membership_v1',
      text: `SELECT k.i, c.epoch, c.pending, m.state, m.since_epoch
        FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(chat_id, username, i)
        JOIN chats c ON c.id = k.chat_id JOIN members m ON m.chat_id = c.id AND m.username = k.username`,
      values: [keys.map((k) => k.chatId), keys.map((k) => k.username)],
    });
    const answers: (Membership | undefined)[] = keys.map(() => undefined);
    for (const row of found)
      answers[Number(row.i) - 1] = {
        epoch: row.epoch as number,
        rekeyPending: blocksPosting(toPending(row.pending)),
        member: {
          username: keys[Number(row.i) - 1].username,
          state: row.state as MemberRecord['state'],
          sinceEpoch: row.since_epoch as number,
        },
      };
    return answers.map((value) => ({ ok: true as const, value }));
  }, LOOKUP_BATCH);

  return {
    isTokenRevoked: (jti: string) => revoked(jti),
    membership: (chatId: string, username: string) => membership({ chatId, username }),
  };
}
