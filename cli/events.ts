import { checkEvent, escapeControls, type FeedEvent, listAllChats, shortId } from '../src/client/index.js';
import { describeChat } from './commands/chats.js';
import { render } from './commands/messages.js';
import type { Context } from './context.js';
import { reportChanges } from './transcript.js';

/**
 * Whether an event concerns the chat `only` (presence concerns everyone). Review A4: each type by
 * the one field that names its chat (an invitation's `chat.id`, every other's `chatId`), never a
 * second field that could name another chat than the one the data is of.
 */
export function concerns(event: FeedEvent, only?: string): boolean {
  const d = event.data;
  if (!only || event.type === 'presence') return true;
  return (event.type === 'chat.invited' || event.type === 'chat.created' ? d?.chat?.id : d?.chatId) === only;
}

/**
 * On connecting: make the keys that wait in members-mode chats (a removal, a rotation) and that
 * this user may make; a failure is shown, never fatal.
 */
export async function commitWaiting(ctx: Context): Promise<void> {
  try {
    await ctx.session.commits.commitAllPending();
  } catch (error) {
    ctx.warn(`!! making waiting keys failed: ${escapeControls((error as Error).message)}`);
  }
}

/**
 * The stream's status as a person wants it: one line when the connection drops (however many
 * retries follow) and one when it is back (`* connected`), and then the waiting keys made.
 */
export function connectionNotices(ctx: Context, line: (text: string) => void) {
  let down = false;
  return (status: 'connected' | 'reconnecting', detail?: string) => {
    if (status === 'connected') {
      down = false;
      line('* connected');
      void commitWaiting(ctx);
    } else if (!down) {
      down = true;
      // "fetch failed; retrying in 0.3 s": the reason, without the retry's time
      line(
        `* connection lost (${escapeControls((detail ?? '').replace(/; (retrying|reconnecting) in .*$/, ''))}); reconnecting`,
      );
    }
  };
}

/** What `listen --json` prints of an event the client took: checked fields only, never raw data. */
export type Taken = Record<string, unknown>;

/**
 * What the user sees of each event; keys in envelopes are verified and taken in on the way.
 * Returns the checked fields of the event taken, or undefined (refused, another chat's, or a
 * message already shown).
 */
export async function showEvent(ctx: Context, event: FeedEvent, only?: string): Promise<Taken | undefined> {
  const s = ctx.session;
  const d = event.data;
  const where = (chatId: string) => (chatId === ctx.currentChat ? '' : `[${shortId(chatId)}] `);
  const name = (username: unknown) => escapeControls(String(username));
  if (!concerns(event, only)) return undefined;
  try {
    checkEvent(event.type, d); // review A1/A2/A3: the shape first (cli/validate.ts)
    switch (event.type) {
      case 'presence':
        if (d.username !== s.username) ctx.say(`* ${name(d.username)} is ${d.online ? 'online' : 'offline'}`);
        return { username: d.username, online: d.online };
      case 'chat.invited':
        await s.commits.handleKeyEvent(event);
        if (!ctx.pending.includes(d.chat.id)) ctx.pending.push(d.chat.id);
        ctx.say(
          `* ${name(d.invitedBy)} invited you to chat ${describeChat(d.chat, s)}; type \`join\` to accept`,
        );
        return { chatId: d.chat.id, epoch: d.chat.epoch, invitedBy: d.invitedBy };
      case 'chat.created': {
        // a chat this user started on another device or tab (this client's own is said by `chat`)
        const chat = await s.createdElsewhere(event);
        if (chat) ctx.say(`* you started chat ${describeChat(chat, s)} elsewhere`);
        return { chatId: d.chat.id, epoch: d.chat.epoch, createdBy: d.chat.createdBy };
      }
      case 'chat.key':
        // The envelope must be for the chat the event names (accept checks it against d.chatId).
        await s.commits.handleKeyEvent(event);
        ctx.say(`* ${where(d.chatId)}the chat key rotated (epoch ${d.keyEnvelope.epoch})`);
        return { chatId: d.chatId, epoch: d.keyEnvelope.epoch };
      case 'chat.rekey': {
        // members mode: a new epoch waits for a member's client to make its key
        if (!d.pending) {
          await s.commits.handleKeyEvent(event);
          ctx.say(
            `* ${where(d.chatId)}the change waiting for a new key was dropped: nobody made the key in time`,
          );
          return { chatId: d.chatId, pending: null };
        }
        ctx.say(`* ${where(d.chatId)}a new key (epoch ${d.pending.epoch}) waits for a member to make it`);
        const outcome = await s.commits.handleKeyEvent(event);
        if (outcome?.status === 'committed')
          ctx.say(`* ${where(d.chatId)}you made the key of epoch ${d.pending.epoch}`);
        return { chatId: d.chatId, pending: d.pending.epoch };
      }
      case 'member.joined':
        if (d.username !== s.username) ctx.say(`* ${where(d.chatId)}${name(d.username)} joined`);
        return { chatId: d.chatId, username: d.username };
      case 'member.left':
        ctx.say(`* ${where(d.chatId)}${d.username === s.username ? 'you' : name(d.username)} left`);
        return { chatId: d.chatId, username: d.username };
      case 'message': {
        const r = await render(ctx, d, d.chatId, ctx.seen);
        // the transcript checks first: a gap's messages that history returned are shown before it
        const t = await s.transcript.receive(d, r.ok).catch((error: Error) => {
          ctx.warn(`!! ${where(d.chatId)}transcript checks failed: ${escapeControls(error.message)}`);
          return { recovered: [], changes: [] };
        });
        for (const m of t.recovered) {
          const g = await render(ctx, m, d.chatId, ctx.seen);
          if (g.ok) ctx.say(`${where(d.chatId)}${g.line}`);
          else ctx.warn(`${where(d.chatId)}${g.line}`);
        }
        if (r.ok) ctx.say(`${where(d.chatId)}${r.line}`);
        else ctx.warn(`${where(d.chatId)}${r.line}`);
        reportChanges(ctx, t.changes, where(d.chatId));
        if (!r.ok) return undefined;
        const m = d.message;
        return {
          chatId: d.chatId,
          seq: d.seq,
          sender: d.sender,
          receivedAt: d.receivedAt,
          message: { id: m.id, epoch: m.epoch, sentAt: m.sentAt, signatureAlgorithm: m.signatureAlgorithm },
          text: r.text,
          verified: true,
        };
      }
      case 'account.keys': {
        // the library forgot the old keys already; the new ones are refused until compared
        const who = name(d.username);
        const { hints } = s.trust;
        if (d.username === s.username)
          ctx.warn('* your keys changed: this device signs with the keys it holds');
        else
          ctx.warn(
            `* ${who}'s keys changed: their new messages are refused until you compare the new fingerprints (${hints.compare(who)}) and accept them (${hints.trust(who)})`,
          );
        return { username: d.username };
      }
      case 'resync':
        ctx.warn('* the server could not replay everything missed; reloading chats');
        for (const chat of await listAllChats(s.api)) await s.chatKeys.currentKey(chat.id);
        return {};
    }
    return undefined;
  } catch (error) {
    ctx.warn(`!! ${escapeControls(event.type)} event refused: ${escapeControls((error as Error).message)}`);
    return undefined;
  }
}
