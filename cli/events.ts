import { describeChat, render } from './commands/index.js';
import type { Context } from './context.js';
import { shortId } from './format.js';
import type { FeedEvent } from './stream.js';

/** What the user sees of each event; keys in envelopes are verified and taken in on the way. */
export async function showEvent(ctx: Context, event: FeedEvent, only?: string): Promise<void> {
  const s = ctx.session;
  const d = event.data;
  const where = (chatId: string) => (chatId === ctx.currentChat ? '' : `[${shortId(chatId)}] `);
  if (only && d.chatId !== only && d.chat?.id !== only && event.type !== 'presence') return;
  try {
    switch (event.type) {
      case 'presence':
        if (d.username !== s.username) ctx.say(`* ${d.username} is ${d.online ? 'online' : 'offline'}`);
        break;
      case 'chat.invited':
        await s.accept(d.keyEnvelope);
        if (!ctx.pending.includes(d.chat.id)) ctx.pending.push(d.chat.id);
        ctx.say(
          `* ${d.invitedBy} invited you to chat ${describeChat(d.chat, s.username)}; type \`join\` to accept`,
        );
        break;
      case 'chat.key':
        await s.accept(d.keyEnvelope);
        ctx.say(`* ${where(d.chatId)}the chat key rotated (epoch ${d.keyEnvelope.epoch})`);
        break;
      case 'member.joined':
        if (d.username !== s.username) ctx.say(`* ${where(d.chatId)}${d.username} joined`);
        break;
      case 'member.left':
        ctx.say(`* ${where(d.chatId)}${d.username === s.username ? 'you' : d.username} left`);
        break;
      case 'message': {
        const r = await render(ctx, d);
        if (r.ok) ctx.say(`${where(d.chatId)}${r.line}`);
        else ctx.warn(`${where(d.chatId)}${r.line}`);
        break;
      }
      case 'resync':
        ctx.warn('* the server could not replay everything missed; reloading chats');
        for (const chat of (await s.api.call<{ chats: { id: string }[] }>('GET', '/chats')).chats)
          await s.currentKey(chat.id);
        break;
    }
  } catch (error) {
    ctx.warn(`!! ${event.type} event refused: ${(error as Error).message}`);
  }
}
