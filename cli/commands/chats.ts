import {
  type Chat,
  escapeControls,
  invitedOf,
  listAllChats,
  shortId,
  type Unavailable,
  unavailableLines,
} from '../../src/client/index.js';
import type { Context } from '../context.js';
import { CliError } from '../errors.js';

/**
 * Who can read a chat, in words a non-cryptographer understands (issue 14): as the keys this
 * client holds of it say (`chatKeys.keyModeOf`), not as a server's answer claims.
 */
export const modeWords = (mode: 'server' | 'members') =>
  mode === 'members' ? 'only members can read' : 'the server can read if it is compromised';

export const describeChat = (chat: Chat, session: Pick<Context['session'], 'username' | 'chatKeys'>) =>
  `${shortId(chat.id)} (${
    chat.members
      .filter((m) => m.username !== session.username)
      .map((m) => `${escapeControls(m.username)}${m.state === 'invited' ? ' (invited)' : ''}`)
      .join(', ') || 'just you'
  }; epoch ${escapeControls(String(chat.epoch))}) — ${modeWords(session.chatKeys.keyModeOf(chat))}`;

/** An offline invitee was invited (said); an unknown one was not (warned). */
function reportUnavailable(ctx: Context, unavailable: Unavailable): void {
  const lines = unavailableLines(unavailable);
  for (const [i, u] of unavailable.entries()) {
    if (u.reason === 'offline') ctx.say(lines[i]);
    else ctx.warn(lines[i]);
  }
}

/** A chat id from a full id or a unique prefix of one of the caller's chats (or the current chat). */
export async function resolveChat(ctx: Context, given?: string): Promise<string> {
  const wanted = given ?? ctx.currentChat;
  if (!wanted) throw new CliError('no chat: give its id (see `chats`), or start one with `chat <users…>`');
  if (/^[0-9a-f-]{36}$/i.test(wanted)) return wanted.toLowerCase();
  const chats = await listAllChats(ctx.session.api);
  const matches = chats.filter((c) => c.id.startsWith(wanted.toLowerCase()));
  if (matches.length !== 1)
    throw new CliError(matches.length ? `${wanted} matches several chats` : `no chat ${wanted} among yours`);
  return matches[0].id;
}

/**
 * `chat [--members] <users…>`: with `--members`, a chat whose keys only its members' clients make
 * (this client makes the first one now).
 */
export async function create(ctx: Context, args: string[], members = false): Promise<void> {
  const keyMode = members || args[0] === '--members' ? 'members' : 'server';
  const invitees = args.filter((a) => a !== '--members');
  if (invitees.length === 0) throw new CliError('usage: chat [--members] <user> [user…]');
  // Review A10: a replayed answer (an existing chat) is refused in the library (checkNewChat).
  const res = await ctx.session.createChat(invitees, { keyMode });
  ctx.currentChat = res.chat.id;
  ctx.say(`started chat ${describeChat(res.chat, ctx.session)}`);
  reportUnavailable(ctx, res.unavailable);
  ctx.result({ chat: res.chat, unavailable: res.unavailable });
}

export async function invite(ctx: Context, chat: string | undefined, invitees: string[]): Promise<void> {
  if (invitees.length === 0) throw new CliError('usage: invite <user> [user…]');
  const chatId = await resolveChat(ctx, chat);
  const res = await ctx.session.invite(chatId, invitees);
  const added = invitedOf(invitees, res.unavailable).map((u) => escapeControls(u));
  if (added.length && res.chat.keyMode === 'members' && res.chat.pending)
    ctx.say(`invited ${added.join(', ')}; the new key waits for a member to make it`);
  else if (added.length)
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
      const chats = await listAllChats(ctx.session.api);
      const invited = chats.filter((c) =>
        c.members.some((m) => m.username === ctx.session.username && m.state === 'invited'),
      );
      if (invited.length !== 1)
        throw new CliError(invited.length ? 'several invitations: join <id>' : 'no invitation to join');
      chatId = invited[0].id;
    }
  }
  chatId = await resolveChat(ctx, chatId);
  const joined = await ctx.session.join(chatId);
  ctx.pending = ctx.pending.filter((id) => id !== chatId);
  ctx.currentChat = chatId;
  ctx.say(`joined chat ${describeChat(joined, ctx.session)}`);
  ctx.result(joined);
}

export async function leave(ctx: Context, chat?: string): Promise<void> {
  const chatId = await resolveChat(ctx, chat);
  await ctx.session.api.leaveChat(chatId);
  if (ctx.currentChat === chatId) ctx.currentChat = undefined;
  ctx.say(`left chat ${shortId(chatId)}`);
  ctx.result({ left: chatId });
}

export async function list(ctx: Context): Promise<void> {
  const chats = await listAllChats(ctx.session.api);
  if (chats.length === 0) ctx.say('no chats yet: start one with `chat <users…>`');
  for (const chat of chats) {
    const mine = chat.members.find((m) => m.username === ctx.session.username);
    const mark = chat.id === ctx.currentChat ? '*' : mine?.state === 'invited' ? '?' : ' ';
    ctx.say(`${mark} ${describeChat(chat, ctx.session)}`);
  }
  ctx.result({ chats });
}
