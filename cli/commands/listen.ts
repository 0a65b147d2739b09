import { follow } from '../../src/client/index.js';
import type { Context } from '../context.js';
import { connectionNotices, showEvent } from '../events.js';
import { jsonLine } from '../format.js';
import { reportOpen } from '../transcript.js';
import { resolveChat } from './chats.js';

/** `listen [--chat ID]`: the events (and verified messages) of every chat, or of one, until stopped. */
export async function listen(ctx: Context, chat: string | undefined, signal: AbortSignal): Promise<void> {
  const only = chat ? await resolveChat(ctx, chat) : undefined;
  ctx.currentChat = only;
  const print = ctx.json ? { ...ctx, say: () => {} } : ctx;
  // warnings stay until resolved: said again on start
  if (only) reportOpen(print, only);
  await follow(
    ctx.session.api,
    {
      onEvent: async (event) => {
        // In --json, only what the client took (not another chat's, not a refusal, not a
        // repeat), and of it only the checked fields, never the server's raw data.
        const taken = await showEvent(print, event, only);
        if (taken && ctx.json)
          console.log(jsonLine({ event: event.type, id: event.id ?? null, data: taken }));
      },
      onStatus: connectionNotices(ctx, (line) => console.error(line)),
    },
    signal,
  );
}
