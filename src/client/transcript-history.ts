/**
 * What the transcript checks ask of a chat's history (protocol.md, "Transcript integrity"): a
 * gap's messages, this client's copy of the message a `prev` names, the highest counter a device
 * that lost its state used, and a `prev` that history confirms. Never trusted as it comes: a
 * message counts only once its signature verifies.
 */
import type { Api } from './api.js';
import { sha256Hex } from './bytes.js';
import { messageSigningText, type PrevRef } from './canonical.js';
import { headerOf, type MessageData } from './message.js';
import type { ChatChecks } from './transcript-state.js';

const PAGE = 1000;

/** Lowercase hex SHA-256 of a message's signing input bytes: what `prev.hash` names. */
export function messageHash(data: Pick<MessageData, 'chatId' | 'sender' | 'message'>): Promise<string> {
  return sha256Hex(messageSigningText(headerOf(data), data.message));
}

/** Whether a message's signature verifies. */
export type Verify = (data: MessageData) => Promise<boolean>;

/** The hash of this client's copy of message `seq`: kept, or fetched (undefined if withheld). */
export async function ownHash(api: Api, checks: ChatChecks, seq: number): Promise<string | undefined> {
  const kept = checks.state.hashes[seq];
  if (kept !== undefined || checks.withheldAt(seq)) return kept;
  const page = await api.listMessages(checks.chatId, { after: seq - 1, limit: 1 });
  const found = page?.messages?.[0];
  return found?.seq === seq ? messageHash(found) : undefined;
}

/**
 * Fetches the seqs [from, to] from history and checks them (`observe`, in order), each added to
 * `recovered`; those it does not return are withheld.
 */
export async function fillGap(
  api: Api,
  verify: Verify,
  checks: ChatChecks,
  [from, to]: [number, number],
  recovered: MessageData[],
  observe: (m: MessageData) => Promise<void>,
): Promise<void> {
  let after = from - 1;
  while (after < to) {
    const page = await api.listMessages(checks.chatId, {
      after,
      limit: Math.min(PAGE, to - after),
    });
    const messages = Array.isArray(page?.messages) ? (page.messages as MessageData[]) : [];
    let moved = false;
    for (const m of messages) {
      if (!Number.isSafeInteger(m?.seq) || m.seq <= after || m.seq > to || m.chatId !== checks.chatId)
        continue;
      checks.withheld(after + 1, m.seq - 1);
      let ok = false;
      try {
        ok = await verify(m);
      } catch {
        ok = false;
      }
      // one that does not verify is shown (refused) but not taken in: see Transcript.receive
      if (ok) await observe(m);
      else checks.refusedAt(m.seq);
      recovered.push(m);
      after = m.seq;
      moved = true;
    }
    if (!moved) break;
  }
  checks.withheld(after + 1, to);
  checks.askedUpTo(to);
}

/** A device that lost its counters finds its highest number for the chat in the chat's history. */
export async function highestInHistory(
  api: Api,
  verify: Verify,
  username: string,
  chatId: string,
  device: string,
): Promise<number> {
  let highest = 0;
  for (let after = 0, pages = 0; pages < 1000; pages++) {
    const page = await api.listMessages(chatId, { after, limit: PAGE });
    const messages = Array.isArray(page?.messages) ? (page.messages as MessageData[]) : [];
    if (messages.length === 0) break;
    for (const m of messages) {
      const c = m?.message?.counter;
      if (m?.sender !== username || m.message.device !== device) continue;
      // only a message whose signature verifies counts (history could show any number), and one
      // below 2^53 - 1 (the next must still be a counter)
      if (!Number.isSafeInteger(c) || (c as number) <= highest || (c as number) >= Number.MAX_SAFE_INTEGER)
        continue;
      if (await verify(m).catch(() => false)) highest = c as number;
    }
    const last = messages.at(-1)?.seq;
    if (!Number.isSafeInteger(last) || (last as number) <= after) break;
    after = last as number;
  }
  return highest;
}

/**
 * The newest kept message that history returns as this client has it, or null (tried for the
 * three newest): each one history does not confirm is unconfirmed and not named again.
 */
export async function confirmedPrev(api: Api, checks: ChatChecks): Promise<PrevRef | null> {
  for (let tries = 0, ref = checks.prevRef(); ref && tries < 3; tries++, ref = checks.prevRef()) {
    const page = await api.listMessages(checks.chatId, { after: ref.seq - 1, limit: 1 });
    const m = page?.messages?.[0] as MessageData | undefined;
    if (m?.seq === ref.seq && (await messageHash(m)) === ref.hash) return ref;
    checks.unconfirm(ref.seq);
  }
  return null;
}
