import {
  escapeControls,
  type MessageData,
  SeenMessages,
  type SignatureAlgorithm,
  transcriptOf,
} from '../../src/client/index.js';
import type { Context } from '../context.js';
import { CliError } from '../errors.js';
import { clock, messageText, SCHEME_NAMES, shortScheme } from '../format.js';
import { reportChanges, reportOpen } from '../transcript.js';
import { resolveChat } from './chats.js';

export function parseScheme(name: string): SignatureAlgorithm {
  const alg = SCHEME_NAMES.get(name);
  if (!alg) throw new CliError(`unknown signature scheme ${escapeControls(name)}: use rsa, dsa or ed25519`);
  return alg;
}

export async function send(
  ctx: Context,
  chat: string | undefined,
  text: string,
  scheme?: string,
): Promise<{ chatId: string; seq: number; epoch: number }> {
  if (!text) throw new CliError('nothing to send');
  const alg = scheme ? parseScheme(scheme) : ctx.session.sig;
  const chatId = await resolveChat(ctx, chat);
  const res = await ctx.session.send(chatId, text, alg);
  ctx.result({ chatId, seq: res.seq, epoch: res.epoch, signatureAlgorithm: alg });
  return { chatId, seq: res.seq, epoch: res.epoch };
}

/**
 * A message as a person reads it, or a loud refusal: an unverified message, one of another chat
 * than `chatId`, or one already shown in this view is never shown as a message.
 */
export async function render(
  ctx: Context,
  data: MessageData,
  chatId: string,
  seen: SeenMessages,
): Promise<{ line: string; ok: boolean; text?: string }> {
  // Review A1: a sender or seq that is not a string or number is shown as the JSON it is.
  const raw = (v: unknown) => escapeControls(typeof v === 'string' ? v : String(JSON.stringify(v)));
  const refuse = (reason: string) => ({
    ok: false,
    line: `!! REJECTED message #${raw(data?.seq)} claiming to be from ${raw(data?.sender)}: ${escapeControls(reason)}`,
  });
  if (data?.chatId === chatId && seen.has(data))
    return refuse(`message ${escapeControls(String(data.message?.id))} was already shown; not shown again`);
  try {
    const text = await ctx.session.read(data, chatId);
    seen.add(data);
    // protocol.md: a version-1 message is shown marked as outside the transcript checks (before
    // its time, where no text of the message can be)
    const v1 = transcriptOf(data.message) === undefined ? '(not covered by transcript checks) ' : '';
    return {
      ok: true,
      text,
      line: `${v1}[${clock(data.message.sentAt)}] ${escapeControls(data.sender)} (${shortScheme(data.message.signatureAlgorithm)}): ${messageText(text)}`,
    };
  } catch (error) {
    return refuse((error as Error).message);
  }
}

/**
 * Review item 10: the most pages `history` follows. A server that keeps answering full pages with a
 * rising seq is not followed forever; up to 1000 pages of 1000 messages is more than any chat holds.
 */
export const MAX_HISTORY_PAGES = 1000;

export async function history(ctx: Context, chat: string | undefined, count = 20): Promise<void> {
  const chatId = await resolveChat(ctx, chat);
  let after = 0;
  let all: MessageData[] = [];
  for (let pages = 0; ; pages++) {
    if (pages === MAX_HISTORY_PAGES) {
      ctx.warn(`!! the server sent ${pages} pages of history and more: showing the last messages so far`);
      break;
    }
    const page = await ctx.session.api.listMessages(chatId, { after, limit: 1000 });
    // a page may hold fewer than `limit` (large messages): the history ends at an empty page
    if (!Array.isArray(page?.messages))
      throw new CliError('the server sent a page of history that is not a list');
    if (page.messages.length === 0) break;
    all = all.concat(page.messages);
    // every message goes through the transcript checks in order: those not shown (all but the
    // last `count`) as they fall out, verified for it; the shown ones once rendered
    while (all.length > count) {
      const m = all.shift() as MessageData;
      await checkTranscript(ctx, m, chatId, m?.chatId === chatId && (await ctx.session.verify(m, chatId)));
    }
    // Not Number(): a seq of ["5"] or "5" is not a seq (review A1); such a page ends the history.
    const seq = page.messages.at(-1)?.seq;
    const last = Number.isSafeInteger(seq) ? (seq as number) : Number.NaN;
    // A server that does not move forward is not followed.
    if (!(last > after)) break;
    after = last;
  }
  const out = [];
  const seen = new SeenMessages();
  for (const m of all) {
    const r = await render(ctx, m, chatId, seen);
    await checkTranscript(ctx, m, chatId, r.ok);
    // Review A5: what history showed is shown once in this view: the live stream does not repeat it.
    if (r.ok) ctx.seen.add(m);
    if (r.ok) ctx.say(r.line);
    else ctx.warn(r.line);
    // In --json, a message of another chat or a repeat is left out (the warning says why).
    if (!r.ok && (m?.chatId !== chatId || seen.has(m))) continue;
    out.push({
      seq: m?.seq,
      sender: m?.sender,
      sentAt: m?.message?.sentAt,
      signatureAlgorithm: m?.message?.signatureAlgorithm,
      verified: r.ok,
      text: r.text ?? null,
    });
  }
  if (all.length === 0) ctx.say('no messages yet');
  const warnings = ctx.session.transcript.warnings(chatId);
  if (!ctx.json) reportOpen(ctx, chatId);
  ctx.result({ chatId, messages: out, warnings });
}

/** One history message through the transcript checks; what changed is said when it changes. */
async function checkTranscript(ctx: Context, m: MessageData, chatId: string, ok: boolean): Promise<void> {
  if (m?.chatId !== chatId || !Number.isSafeInteger(m?.seq)) return;
  const checked = await ctx.session.transcript.receive(m, ok).catch((error: Error) => {
    ctx.warn(`!! transcript checks failed: ${escapeControls(error.message)}`);
    return { changes: [] };
  });
  const { changes } = checked;
  // the open ones are listed at the end; resolutions are said here
  const resolved = changes.filter((c) => c.status === 'resolved');
  if (!ctx.json) reportChanges(ctx, resolved, '');
}
