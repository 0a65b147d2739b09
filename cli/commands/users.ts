import { escapeControls } from '../../src/client/index.js';
import type { Context } from '../context.js';
import { CliError } from '../errors.js';

interface Status {
  username: string;
  online: boolean;
  lastSeen: string | null;
}

const seen = (s: Status) =>
  s.online
    ? 'online'
    : s.lastSeen
      ? `offline (last seen ${escapeControls(s.lastSeen)})`
      : 'offline (never seen)';

export async function status(ctx: Context, args: string[]): Promise<void> {
  if (args.length !== 1) throw new CliError('usage: status <user>');
  const s = await ctx.session.api.getUserStatus(args[0]);
  ctx.say(`${escapeControls(s.username)} is ${seen(s)}`);
  ctx.result(s);
}

export async function online(ctx: Context): Promise<void> {
  const { users } = await ctx.session.api.listOnlineUsers();
  ctx.say(users.length ? `online: ${users.map((u) => escapeControls(u)).join(', ')}` : 'nobody is online');
  ctx.result({ users });
}

export async function users(ctx: Context): Promise<void> {
  const list = await ctx.session.api.listUsers();
  for (const s of list) ctx.say(`${escapeControls(s.username).padEnd(16)} ${seen(s)}`);
  ctx.result(list);
}
