import readline from 'node:readline';
import { checkChat, escapeControls, follow, SeenMessages, shortId } from '../src/client/index.js';
import type { Menu } from './commands/command.js';
import { send } from './commands/messages.js';
import { menuCommand } from './commands/table.js';
import type { Context } from './context.js';
import { CliError, describe } from './errors.js';
import { connectionNotices, showEvent } from './events.js';
import { printable, shortScheme } from './format.js';
import { MENU } from './help.js';
import type { LineQueue } from './lines.js';
import type { Session } from './session.js';

/** The terminal menu: the stream shows events as they happen while commands are typed. */
export async function interactive(
  session: Session,
  input: LineQueue,
  tty: boolean,
  /** Fires on SIGINT, SIGTERM, SIGHUP or a broken stdout/stderr (cli/exits.ts): quit, logging out. */
  stop?: AbortSignal,
): Promise<void> {
  const lines = input.rl;
  const abort = new AbortController();
  let quitting: Promise<void> | undefined;
  const write = (raw: string, stream: NodeJS.WriteStream = process.stdout) => {
    const text = printable(raw);
    if (tty) {
      readline.clearLine(process.stdout, 0);
      readline.cursorTo(process.stdout, 0);
      stream.write(`${text}\n`);
      if (!quitting) lines.prompt(true);
    } else stream.write(`${text}\n`);
  };
  const ctx: Context = {
    session,
    json: false,
    say: (t) => write(t),
    warn: (t) => write(t, process.stderr),
    result: () => {},
    pending: [],
    seen: new SeenMessages(),
  };
  session.notice = (line, warn) => (warn ? ctx.warn(line) : ctx.say(line));
  const setPrompt = () =>
    lines.setPrompt(`${session.username}${ctx.currentChat ? `@${shortId(ctx.currentChat)}` : ''}> `);

  const quit = () => {
    quitting ??= (async () => {
      abort.abort();
      await session.close();
      write('logged out; bye');
      lines.close();
    })();
    return quitting;
  };

  const feed = follow(
    session.api,
    {
      onEvent: async (event) => {
        await showEvent(ctx, event);
      },
      onStatus: connectionNotices(ctx, (line) => write(line, process.stderr)),
    },
    abort.signal,
  ).catch((error) => {
    write(`!! the event stream stopped: ${describe(error)}`, process.stderr);
    void quit();
  });

  const menu: Menu = {
    quit,
    showHelp: () => {
      for (const line of MENU.split('\n')) ctx.say(line);
    },
  };

  async function run(line: string): Promise<void> {
    const [word, ...args] = line.trim().split(/\s+/);
    if (word === '') return;
    const command = menuCommand(word);
    if (command) return command.run(ctx, args, menu);
    if (!ctx.currentChat)
      throw new CliError(
        `unknown command ${escapeControls(word)}; type help (or start a chat to send messages)`,
      );
    await send(ctx, undefined, line);
  }

  // One command at a time, in the order typed.
  let queue = Promise.resolve();
  input.take(
    (line) => {
      queue = queue.then(async () => {
        if (quitting) return;
        try {
          await run(line);
          // the place is kept for the next login (state.json)
          if (ctx.currentChat !== session.store.state.chat) {
            session.store.state.chat = ctx.currentChat;
            await session.store.saveState();
          }
        } catch (error) {
          ctx.warn(`!! ${describe(error)}`);
        }
        setPrompt();
        if (tty && !quitting) lines.prompt();
      });
    },
    () => void queue.then(quit),
  );
  lines.on('SIGINT', () => void quit());
  if (stop?.aborted) void quit();
  else stop?.addEventListener('abort', () => void quit(), { once: true });

  ctx.say(
    `logged in as ${session.username} at ${session.api.server}; signing with ${shortScheme(session.sig)}. Type help for commands.`,
  );
  await resumePlace(ctx);
  setPrompt();
  if (tty) lines.prompt();
  await feed;
  await quit();
}

/** The chat this user was in when the menu last quit, if it is still one of theirs. */
async function resumePlace(ctx: Context): Promise<void> {
  const chatId = ctx.session.store.state.chat;
  if (!chatId) return;
  try {
    const chat = await ctx.session.api.getChat(chatId);
    checkChat(chat);
    ctx.currentChat = chat.id;
    ctx.say(`back in chat ${shortId(chat.id)}`);
  } catch {
    ctx.session.store.state.chat = undefined; // gone (left, or another server's): start outside
  }
}
