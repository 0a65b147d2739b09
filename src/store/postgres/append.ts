/** Posting on PostgreSQL: the PL/pgSQL functions (created by migrate.ts) and how their answers map to results. */

import type { Settled } from '../group-commit.js';
import { type AppendedMessage, AppendRefusedError, type NewMessage } from '../message-types.js';
import type { Row } from '../rows.js';

/**
 * Posting in one round trip. The chat row is locked from the first statement to commit, so the
 * lock is held for the function's own work, not for seven network round trips. The name carries
 * a version: a new body gets a new name, so instances of two releases can run side by side (v3
 * refused every post while a members-mode epoch was pending; v4 lets posts through while the
 * pending epoch only adds members; v5 stores a version-2 message's device, counter and prev, and
 * refuses a prev.seq not lower than the message's seq). The event is stored once, for the chat's members (migration
 * 6), without a copy of the message.
 */
export const APPEND_MESSAGE = `
CREATE OR REPLACE FUNCTION securechat_append_message_v5(
  p_chat TEXT, p_sender TEXT, p_id TEXT, p_epoch INTEGER, p_sent_at TEXT, p_iv TEXT,
  p_ciphertext TEXT, p_tag TEXT, p_sig_alg TEXT, p_signature TEXT, p_received_at TEXT,
  p_device TEXT, p_counter BIGINT, p_prev_seq BIGINT, p_prev_hash TEXT,
  OUT out_seq BIGINT, OUT out_event_id BIGINT, OUT out_epoch_messages INTEGER, OUT out_recipients TEXT[])
LANGUAGE plpgsql AS $fn$
DECLARE
  chat RECORD;
  member_state TEXT;
BEGIN
  SELECT c.epoch, c.next_seq, c.epoch_messages, c.pending INTO chat FROM chats c WHERE c.id = p_chat FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'CHAT_NOT_FOUND'; END IF;
  SELECT m.state INTO member_state FROM members m WHERE m.chat_id = p_chat AND m.username = p_sender;
  IF member_state IS NULL THEN RAISE EXCEPTION 'CHAT_NOT_FOUND'; END IF;
  IF member_state <> 'joined' THEN RAISE EXCEPTION 'NOT_JOINED'; END IF;
  -- members mode, an epoch waiting for a member's commit (set under this row's lock); v4: one
  -- that only adds members does not stop posting (types.ts addsOnly)
  IF chat.pending IS NOT NULL AND NOT (chat.pending::jsonb ->> 'reason' = 'invite'
      AND jsonb_array_length(chat.pending::jsonb -> 'removed') = 0) THEN
    RAISE EXCEPTION 'REKEY_PENDING';
  END IF;
  IF chat.epoch <> p_epoch THEN RAISE EXCEPTION 'STALE_EPOCH' USING DETAIL = chat.epoch::text; END IF;
  out_seq := chat.next_seq;
  IF p_prev_seq IS NOT NULL AND p_prev_seq >= out_seq THEN RAISE EXCEPTION 'INVALID_PREV'; END IF;
  INSERT INTO messages (chat_id, seq, id, id_lower, sender, epoch, sent_at, iv, ciphertext, tag,
    sig_alg, signature, received_at, device, counter, prev_seq, prev_hash)
  VALUES (p_chat, out_seq, p_id, lower(p_id), p_sender, p_epoch, p_sent_at, p_iv, p_ciphertext, p_tag,
    p_sig_alg, p_signature, p_received_at, p_device, p_counter, p_prev_seq, p_prev_hash);
  UPDATE chats SET next_seq = next_seq + 1, epoch_messages = epoch_messages + 1,
    active_at = GREATEST(active_at, p_received_at)
  WHERE id = p_chat;
  SELECT array_agg(m.username) INTO out_recipients FROM members m WHERE m.chat_id = p_chat;
  -- last: the counter row stays locked until commit, so event ids commit in order everywhere
  UPDATE counters SET value = value + 1 WHERE name = 'event_id' RETURNING value INTO out_event_id;
  INSERT INTO events (id, type, data, created_at, chat_id, to_members, seq)
  VALUES (out_event_id, 'message', '', p_received_at, p_chat, true, out_seq);
  out_epoch_messages := chat.epoch_messages + 1;
END
$fn$`;

/**
 * Group commit: the posts that arrived while the last batch was written, in one statement (so one
 * transaction and one commit). Every chat row of the batch is locked first, in id order, then the
 * event counter (the order every transaction keeps); each post runs in a subtransaction, so a
 * failed check fails that post alone, and comes back as its error's name.
 */
export const APPEND_MESSAGES = `
CREATE OR REPLACE FUNCTION securechat_append_messages_v5(
  p_chat TEXT[], p_sender TEXT[], p_id TEXT[], p_epoch INTEGER[], p_sent_at TEXT[], p_iv TEXT[],
  p_ciphertext TEXT[], p_tag TEXT[], p_sig_alg TEXT[], p_signature TEXT[], p_received_at TEXT[],
  p_device TEXT[], p_counter BIGINT[], p_prev_seq BIGINT[], p_prev_hash TEXT[])
RETURNS TABLE (out_seq BIGINT, out_event_id BIGINT, out_epoch_messages INTEGER, out_recipients TEXT[],
  out_error TEXT, out_detail TEXT)
LANGUAGE plpgsql AS $fn$
DECLARE
  r RECORD;
  failed_constraint TEXT;
BEGIN
  PERFORM 1 FROM chats c WHERE c.id = ANY(p_chat) ORDER BY c.id FOR UPDATE;
  FOR i IN 1 .. coalesce(array_length(p_chat, 1), 0) LOOP
    out_seq := NULL; out_event_id := NULL; out_epoch_messages := NULL; out_recipients := NULL;
    out_error := NULL; out_detail := NULL;
    BEGIN
      SELECT * INTO r FROM securechat_append_message_v5(p_chat[i], p_sender[i], p_id[i], p_epoch[i],
        p_sent_at[i], p_iv[i], p_ciphertext[i], p_tag[i], p_sig_alg[i], p_signature[i], p_received_at[i],
        p_device[i], p_counter[i], p_prev_seq[i], p_prev_hash[i]);
      out_seq := r.out_seq; out_event_id := r.out_event_id;
      out_epoch_messages := r.out_epoch_messages; out_recipients := r.out_recipients;
    EXCEPTION
      WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS failed_constraint = CONSTRAINT_NAME;
        IF failed_constraint <> 'messages_unique_id' THEN RAISE; END IF;
        out_error := 'DUPLICATE_MESSAGE';
      WHEN raise_exception THEN
        out_error := SQLERRM;
        GET STACKED DIAGNOSTICS out_detail = PG_EXCEPTION_DETAIL;
    END;
    RETURN NEXT;
  END LOOP;
END
$fn$`;

/** Posts written in one statement at most (each is a subtransaction: PostgreSQL keeps 64 cheaply). */
export const APPEND_BATCH = 64;

/** One post of a batch as the database answered it: stored, or the domain error that refused it. */
export function appended(
  input: NewMessage,
  eventData: (seq: number) => string,
  row: Row,
): Settled<AppendedMessage> {
  const { chatId } = input;
  const fail = (error: Error): Settled<AppendedMessage> => ({ ok: false, error });
  switch (row.out_error) {
    case null:
      break;
    case 'DUPLICATE_MESSAGE':
      return fail(new AppendRefusedError('duplicate-message'));
    case 'CHAT_NOT_FOUND':
      return fail(new AppendRefusedError('chat-not-found'));
    case 'NOT_JOINED':
      return fail(new AppendRefusedError('not-joined'));
    case 'REKEY_PENDING':
      return fail(new AppendRefusedError('rekey-pending'));
    case 'INVALID_PREV':
      return fail(new AppendRefusedError('invalid-prev'));
    case 'STALE_EPOCH':
      return fail(new AppendRefusedError('stale-epoch', Number(row.out_detail)));
    default:
      return fail(new Error(`posting failed: ${row.out_error}`));
  }
  const seq = row.out_seq as number;
  const event = {
    id: row.out_event_id as number,
    type: 'message',
    data: eventData(seq),
    recipients: (row.out_recipients as string[] | null) ?? [],
    chatId,
    toMembers: true,
  };
  return { ok: true, value: { seq, event, epochMessages: row.out_epoch_messages as number } };
}
