import type { SignatureAlgorithm } from '../../src/crypto/keys.js';
import type { Context } from '../context.js';
import { CliError } from '../errors.js';
import { clock, SCHEME_NAMES, shortScheme } from '../format.js';
import type { MessageData } from '../session.js';
import { resolveChat } from './chats.js';

export function parseScheme(name: string): SignatureAlgorithm {
  const alg = SCHEME_NAMES[name];
  if (!alg) throw new CliError(`unknown signature scheme ${name}: use rsa, dsa or ed25519`);
  return alg;
}

export async function send(
  ctx: Context,
  chat: string | undefined,
  text: string,
  scheme?: string,
): Promise<void> {
  if (!text) throw new CliError('nothing to send');
  const chatId = await resolveChat(ctx, chat);
  const alg = scheme ? parseScheme(scheme) : ctx.session.sig;
  const res = await ctx.session.send(chatId, text, alg);
  ctx.result({ chatId, seq: res.seq, epoch: res.epoch, signatureAlgorithm: alg });
}

/** A message as a person reads it, or a loud refusal: an unverified message is never shown as one. */
export async function render(
  ctx: Context,
  data: MessageData,
): Promise<{ line: string; ok: boolean; text?: string }> {
  try {
    const text = await ctx.session.read(data);
    return {
      ok: true,
      text,
      line: `[${clock(data.message.sentAt)}] ${data.sender} (${shortScheme(data.message.signatureAlgorithm)}): ${text}`,
    };
  } catch (error) {
    return {
      ok: false,
      line: `!! REJECTED message #${data.seq} claiming to be from ${data.sender}: ${(error as Error).message}`,
    };
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
    after = page.messages[page.messages.length - 1].seq;
  }
  const out = [];
  for (const m of all) {
    const r = await render(ctx, m);
    if (r.ok) ctx.say(r.line);
    else ctx.warn(r.line);
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
