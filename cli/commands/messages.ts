import { SeenMessages, type SignatureAlgorithm } from '../../src/client/index.js';
import type { Context } from '../context.js';
import { CliError } from '../errors.js';
import { clock, escapeControls, messageText, SCHEME_NAMES, shortScheme } from '../format.js';
import type { MessageData } from '../session.js';
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

/** The (chat, message id) pairs already shown in one view: each is shown once, however often it comes. */
export type Seen = SeenMessages;

/**
 * A message as a person reads it, or a loud refusal: an unverified message, one of another chat
 * than `chatId`, or one already shown in this view is never shown as a message.
 */
export async function render(
  ctx: Context,
  data: MessageData,
  chatId: string,
  seen: Seen,
): Promise<{ line: string; ok: boolean; text?: string }> {
  const refuse = (reason: string) => ({
    ok: false,
    line: `!! REJECTED message #${escapeControls(String(data?.seq))} claiming to be from ${escapeControls(String(data?.sender))}: ${reason}`,
  });
  if (data?.chatId === chatId && seen.has(data))
    return refuse(`message ${escapeControls(String(data.message?.id))} was already shown; not shown again`);
  try {
    const text = await ctx.session.read(data, chatId);
    seen.add(data);
    return {
      ok: true,
      text,
      line: `[${clock(data.message.sentAt)}] ${escapeControls(data.sender)} (${shortScheme(data.message.signatureAlgorithm)}): ${messageText(text)}`,
    };
  } catch (error) {
    return refuse((error as Error).message);
  }
}

export async function history(ctx: Context, chat: string | undefined, count = 20): Promise<void> {
  const chatId = await resolveChat(ctx, chat);
  let after = 0;
  let all: MessageData[] = [];
  for (;;) {
    const page = await ctx.session.api.call<{ messages: MessageData[] }>(
      'GET',
      `/chats/${chatId}/messages?after=${after}&limit=1000`,
    );
    // a page may hold fewer than `limit` (large messages): the history ends at an empty page
    if (page.messages.length === 0) break;
    all = all.concat(page.messages).slice(-count);
    const last = Number(page.messages.at(-1)?.seq);
    // A server that does not move forward is not followed.
    if (!(last > after)) break;
    after = last;
  }
  const out = [];
  const seen: Seen = new SeenMessages();
  for (const m of all) {
    const r = await render(ctx, m, chatId, seen);
    if (r.ok) ctx.say(r.line);
    else ctx.warn(r.line);
    // In --json, a message of another chat or a repeat is left out (the warning says why).
    if (!r.ok && (m?.chatId !== chatId || seen.has(m))) continue;
    out.push({
      seq: m.seq,
      sender: m.sender,
      sentAt: m.message.sentAt,
      signatureAlgorithm: m.message.signatureAlgorithm,
      verified: r.ok,
      text: r.text ?? null,
    });
  }
  if (all.length === 0) ctx.say('no messages yet');
  ctx.result({ chatId, messages: out });
}
