import type { KeyEnvelope } from '../../src/crypto/envelope.js';
import type { ChatView, Context } from '../context.js';
import { CliError } from '../errors.js';
import { escapeControls, shortId } from '../format.js';
import { checkChat, checkUnavailable } from '../validate.js';

type Unavailable = { username: string; reason: 'offline' | 'unknown' }[];

export const describeChat = (chat: ChatView, me: string) =>
  `${shortId(chat.id)} (${
    chat.members
      .filter((m) => m.username !== me)
      .map((m) => `${escapeControls(m.username)}${m.state === 'invited' ? ' (invited)' : ''}`)
      .join(', ') || 'just you'
  }; epoch ${escapeControls(String(chat.epoch))})`;

function reportUnavailable(ctx: Context, unavailable: Unavailable): void {
  for (const u of unavailable) {
    ctx.warn(
      u.reason === 'offline'
        ? `${escapeControls(u.username)} is offline and was not invited`
        : `there is no user ${escapeControls(u.username)}`,
    );
  }
}

/** Every chat of the caller, following `nextCursor` page by page (a cursor seen twice ends it). */
export async function listChats(api: Context['session']['api']): Promise<ChatView[]> {
  const all: ChatView[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page: { chats: ChatView[]; nextCursor?: string | null } = await api.call(
      'GET',
      `/chats?limit=500${query}`,
    );
    if (!Array.isArray(page?.chats)) throw new CliError('the server sent a list of chats that is not a list');
    for (const chat of page.chats) checkChat(chat); // review A1/A2: names and epochs checked before use
    all.push(...page.chats);
    cursor = typeof page.nextCursor === 'string' && !seen.has(page.nextCursor) ? page.nextCursor : null;
    if (cursor !== null) seen.add(cursor);
  } while (cursor !== null);
  return all;
}

/** A chat id from a full id or a unique prefix of one of the caller's chats (or the current chat). */
export async function resolveChat(ctx: Context, given?: string): Promise<string> {
  const wanted = given ?? ctx.currentChat;
  if (!wanted) throw new CliError('no chat: give its id (see `chats`), or start one with `chat <users…>`');
  if (/^[0-9a-f-]{36}$/i.test(wanted)) return wanted.toLowerCase();
  const chats = await listChats(ctx.session.api);
  const matches = chats.filter((c) => c.id.startsWith(wanted.toLowerCase()));
  if (matches.length !== 1)
    throw new CliError(matches.length ? `${wanted} matches several chats` : `no chat ${wanted} among yours`);
  return matches[0].id;
}

/**
 * Review A10: a chat just created is new to this client (no epoch or envelope of it seen yet), at
 * epoch 1 and created by this user; otherwise the answer is a replay of an existing chat's (whose
 * other members would read what is sent to it), and is refused.
 */
function checkNewChat(ctx: Context, chat: ChatView): void {
  const state = ctx.session.trust.state;
  const known = state.epochs.has(chat.id) || [...state.envelopes.values()].some((e) => e.chatId === chat.id);
  if (known || chat.epoch !== 1 || chat.createdBy !== ctx.session.username)
    throw new CliError(
      `WARNING: the server answered with chat ${shortId(chat.id)} (epoch ${chat.epoch}, created by ${chat.createdBy}), ` +
        'which is not a chat just created by you (a replayed answer?); nothing sent to it',
    );
}

export async function create(ctx: Context, invitees: string[]): Promise<void> {
  if (invitees.length === 0) throw new CliError('usage: chat <user> [user…]');
  const res = await ctx.session.api.call<{
    chat: ChatView;
    keyEnvelope: KeyEnvelope;
    unavailable: Unavailable;
  }>('POST', '/chats', { invitees });
  checkChat(res?.chat);
  checkUnavailable(res.unavailable);
  checkNewChat(ctx, res.chat);
  await ctx.session.accept(res.keyEnvelope, { chatId: res.chat.id, epoch: res.chat.epoch });
  ctx.currentChat = res.chat.id;
  ctx.say(`started chat ${describeChat(res.chat, ctx.session.username)}`);
  reportUnavailable(ctx, res.unavailable);
  ctx.result({ chat: res.chat, unavailable: res.unavailable });
}

export async function invite(ctx: Context, chat: string | undefined, invitees: string[]): Promise<void> {
  if (invitees.length === 0) throw new CliError('usage: invite <user> [user…]');
  const chatId = await resolveChat(ctx, chat);
  const res = await ctx.session.api.call<{ chat: ChatView; unavailable: Unavailable }>(
    'POST',
    `/chats/${chatId}/invite`,
    { invitees },
  );
  checkChat(res?.chat);
  checkUnavailable(res.unavailable);
  const added = invitees.filter((u) => !res.unavailable.some((x) => x.username === u));
  if (added.length)
    ctx.say(
      `invited ${added.join(', ')}; the chat key rotated (epoch ${escapeControls(String(res.chat.epoch))})`,
    );
  reportUnavailable(ctx, res.unavailable);
  ctx.result(res);
}

export async function join(ctx: Context, chat?: string): Promise<void> {
  let chatId = chat;
  if (!chatId) {
    if (ctx.pending.length > 1)
      throw new CliError(`several invitations: join <id> (${ctx.pending.map(shortId).join(', ')})`);
    chatId = ctx.pending[0];
    if (!chatId) {
      const chats = await listChats(ctx.session.api);
      const invited = chats.filter((c) =>
        c.members.some((m) => m.username === ctx.session.username && m.state === 'invited'),
      );
      if (invited.length !== 1)
        throw new CliError(invited.length ? 'several invitations: join <id>' : 'no invitation to join');
      chatId = invited[0].id;
    }
  }
  chatId = await resolveChat(ctx, chatId);
  const res = await ctx.session.api.call<{ chat: ChatView; keyEnvelope: KeyEnvelope }>(
    'POST',
    `/chats/${chatId}/join`,
  );
  checkChat(res?.chat);
  await ctx.session.accept(res.keyEnvelope, { chatId, epoch: res.chat.epoch });
  ctx.pending = ctx.pending.filter((id) => id !== chatId);
  ctx.currentChat = chatId;
  ctx.say(`joined chat ${describeChat(res.chat, ctx.session.username)}`);
  ctx.result(res.chat);
}

export async function leave(ctx: Context, chat?: string): Promise<void> {
  const chatId = await resolveChat(ctx, chat);
  await ctx.session.api.call('POST', `/chats/${chatId}/leave`);
  if (ctx.currentChat === chatId) ctx.currentChat = undefined;
  ctx.say(`left chat ${shortId(chatId)}`);
  ctx.result({ left: chatId });
}

export async function list(ctx: Context): Promise<void> {
  const chats = await listChats(ctx.session.api);
  if (chats.length === 0) ctx.say('no chats yet: start one with `chat <users…>`');
  for (const chat of chats) {
    const mine = chat.members.find((m) => m.username === ctx.session.username);
    const mark = chat.id === ctx.currentChat ? '*' : mine?.state === 'invited' ? '?' : ' ';
    ctx.say(`${mark} ${describeChat(chat, ctx.session.username)}`);
  }
  ctx.result({ chats });
}
