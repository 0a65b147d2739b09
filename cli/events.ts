import type { FeedEvent } from '../src/client/index.js';
import { listChats } from './commands/chats.js';
import { describeChat, render } from './commands/index.js';
import type { Context } from './context.js';
import { escapeControls, shortId } from './format.js';

/** Whether an event concerns the chat `only` (presence concerns everyone). */
export function concerns(event: FeedEvent, only?: string): boolean {
  const d = event.data;
  return !only || event.type === 'presence' || d?.chatId === only || d?.chat?.id === only;
}

/**
 * What the user sees of each event; keys in envelopes are verified and taken in on the way.
 * Returns whether the event was taken (false: refused, or a message already shown).
 */
export async function showEvent(ctx: Context, event: FeedEvent, only?: string): Promise<boolean> {
  const s = ctx.session;
  const d = event.data;
  const where = (chatId: string) => (chatId === ctx.currentChat ? '' : `[${shortId(chatId)}] `);
  const name = (username: unknown) => escapeControls(String(username));
  if (!concerns(event, only)) return false;
  try {
    switch (event.type) {
      case 'presence':
        if (d.username !== s.username) ctx.say(`* ${name(d.username)} is ${d.online ? 'online' : 'offline'}`);
        break;
      case 'chat.invited':
        await s.accept(d.keyEnvelope, { chatId: d.chat.id, epoch: d.chat.epoch });
        if (!ctx.pending.includes(d.chat.id)) ctx.pending.push(d.chat.id);
        ctx.say(
          `* ${name(d.invitedBy)} invited you to chat ${describeChat(d.chat, s.username)}; type \`join\` to accept`,
        );
        break;
      case 'chat.key':
        // The envelope must be for the chat the event names (accept checks it against d.chatId).
        await s.accept(d.keyEnvelope, { chatId: d.chatId });
        ctx.say(`* ${where(d.chatId)}the chat key rotated (epoch ${d.keyEnvelope.epoch})`);
        break;
      case 'member.joined':
        if (d.username !== s.username) ctx.say(`* ${where(d.chatId)}${name(d.username)} joined`);
        break;
      case 'member.left':
        ctx.say(`* ${where(d.chatId)}${d.username === s.username ? 'you' : name(d.username)} left`);
        break;
      case 'message': {
        const r = await render(ctx, d, d.chatId, ctx.seen);
        if (r.ok) ctx.say(`${where(d.chatId)}${r.line}`);
        else ctx.warn(`${where(d.chatId)}${r.line}`);
        return r.ok;
      }
      case 'resync':
        ctx.warn('* the server could not replay everything missed; reloading chats');
        for (const chat of await listChats(s.api)) await s.currentKey(chat.id);
        break;
    }
    return true;
  } catch (error) {
    ctx.warn(`!! ${escapeControls(event.type)} event refused: ${(error as Error).message}`);
    return false;
  }
}
