import readline from 'node:readline';
import { escapeControls, follow, SeenMessages, shortId } from '../src/client/index.js';
import { chats, keys, messages, parseScheme, users } from './commands/index.js';
import type { Context } from './context.js';
import { CliError, describe } from './errors.js';
import { commitWaiting, showEvent } from './events.js';
import { printable, shortScheme } from './format.js';
import type { LineQueue } from './lines.js';
import type { Session } from './session.js';

export const MENU = `Menu commands (interactive):
  chat <users…>        start a chat (you are told who is offline or unknown)
  chat --members <users…>  a chat only its members can read (their clients make its keys)
  invite <users…>      invite more people to the current chat (the key rotates)
  join [chatId]        accept an invitation (no id needed when there is one)
  leave                leave the current chat (the key rotates for the others)
  chats                your chats (* current, ? invited); switch <chatId> to change
  status <user>        is that user online?
  all                  who is online
  sig rsa|dsa|ed25519  the signature scheme for your messages (kept until changed)
  history [n]          the last n messages of the current chat (default 20)
  fingerprint [user]   key fingerprints, yours or a user's (compare them out of band)
  trust <user> [FP]    accept a user's changed keys: those \`fingerprint <user>\` showed, or FP
  trust --server [FP]  accept the server's changed key (FP, or the one \`fingerprint\` showed)
  help                 this list
  quit                 log out and leave (Ctrl-D and Ctrl-C too)
Anything else is a message to the current chat.`;

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
      onStatus: (status, detail) => {
        write(status === 'connected' ? '* connected' : `* ${detail}`, process.stderr);
        if (status === 'connected') void commitWaiting(ctx);
      },
    },
    abort.signal,
  ).catch((error) => {
    write(`!! the event stream stopped: ${describe(error)}`, process.stderr);
    void quit();
  });

  async function run(line: string): Promise<void> {
    const [word, ...args] = line.trim().split(/\s+/);
    switch (word) {
      case '':
        return;
      case 'help':
      case '?':
        for (const line of MENU.split('\n')) ctx.say(line);
        return;
      case 'quit':
      case 'exit':
        return quit();
      case 'chat':
        return chats.create(ctx, args);
      case 'invite':
        return chats.invite(ctx, undefined, args);
      case 'join':
        return chats.join(ctx, args[0]);
      case 'leave':
        return chats.leave(ctx, args[0]);
      case 'chats':
        return chats.list(ctx);
      case 'switch':
        ctx.currentChat = await chats.resolveChat(ctx, args[0] ?? '');
        return ctx.say(`now in chat ${shortId(ctx.currentChat)}`);
      case 'status':
        return users.status(ctx, args);
      case 'all':
      case 'online':
        return users.online(ctx);
      case 'sig':
        if (args.length === 0) return ctx.say(`signing with ${shortScheme(session.sig)}`);
        await session.setSig(parseScheme(args[0]));
        return ctx.say(`now signing with ${shortScheme(session.sig)}`);
      case 'history':
        return messages.history(ctx, undefined, args[0] ? Number.parseInt(args[0], 10) || 20 : 20);
      case 'fingerprint':
        return keys.fingerprints(ctx, args[0]);
      case 'trust':
        return keys.trust(ctx, args[0], args[1]);
      default:
        if (!ctx.currentChat)
          throw new CliError(
            `unknown command ${escapeControls(word)}; type help (or start a chat to send messages)`,
          );
        await messages.send(ctx, undefined, line);
        return;
    }
  }

  // One command at a time, in the order typed.
  let queue = Promise.resolve();
  input.take(
    (line) => {
      queue = queue.then(async () => {
        if (quitting) return;
        try {
          await run(line);
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
  setPrompt();
  if (tty) lines.prompt();
  await feed;
  await quit();
}
