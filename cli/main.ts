import { readFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { promptHidden } from '../src/util/prompt.js';
import { chats, keys, messages, users } from './commands/index.js';
import type { Context } from './context.js';
import { CliError, describe } from './errors.js';
import { showEvent } from './events.js';
import { interactive, MENU } from './interactive.js';
import { LineQueue } from './lines.js';
import { Session } from './session.js';
import { follow } from './stream.js';

const HELP = `securechat — end-to-end encrypted, signed group chat

Usage:
  securechat [options]                  the interactive menu
  securechat [options] <command> [args] one action, then log out

Options:
  --server URL        the server (default $SECURECHAT_SERVER or http://127.0.0.1:8080)
  --user NAME         who you are (default $SECURECHAT_USER)
  --ca FILE           trust this CA or self-signed certificate for an https server (default $SECURECHAT_CA)
  --keys DIR          the key store folder holding users/<NAME>/ (default $SECURECHAT_KEYS_DIR or ./keys)
  --password-stdin    read the password from the first line of standard input (else it is prompted)
  --json              print results as JSON (commands only)
  --chat ID           the chat (a full id or a unique prefix) for invite, leave, send, history, listen
  --sig rsa|dsa|ed25519  the signature scheme for send (default: your saved setting, rsa at first)
  --limit N           how many messages history shows (default 20)
  -h, --help          this help

Commands:
  status <user>       online or not, and when last seen
  online              who is online
  users               every user with their presence
  chats               your chats
  chat <users…>       start a chat (prints its id; says who was offline or unknown)
  invite <users…>     invite to --chat
  join [chatId]       accept an invitation (no id needed when there is one)
  leave               leave --chat
  send <text…>        send to --chat
  history             the last --limit messages of --chat, verified and decrypted
  listen              print events (and verified messages) until Ctrl-C
  fingerprint [user]  key fingerprints (yours and the server's, or a user's)
  trust <user|server> accept a changed key after checking its fingerprint
  decrypt             teaching aid: unwrap a key envelope (--envelope FILE or stdin, or
                      --wrapped BASE64) with --user's key store and print the chat key in hex;
                      --server-key FILE checks the server's signature first

${MENU}`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      server: { type: 'string', default: process.env.SECURECHAT_SERVER ?? 'http://127.0.0.1:8080' },
      user: { type: 'string', default: process.env.SECURECHAT_USER },
      keys: { type: 'string', default: process.env.SECURECHAT_KEYS_DIR ?? 'keys' },
      ca: { type: 'string', default: process.env.SECURECHAT_CA },
      'password-stdin': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      chat: { type: 'string' },
      sig: { type: 'string' },
      limit: { type: 'string' },
      envelope: { type: 'string' },
      wrapped: { type: 'string' },
      'server-key': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const [command, ...args] = positionals;
  const keysDir = path.resolve(values.keys);

  if (command === 'decrypt') {
    const out = await keys.decrypt({
      keysDir,
      user: values.user,
      envelope: values.envelope,
      wrapped: values.wrapped,
      serverKey: values['server-key'],
    });
    if (values.json) console.log(JSON.stringify({ key: out.key }));
    else for (const line of out.lines) console.log(line);
    return 0;
  }
  if (command && !COMMANDS.has(command))
    throw new CliError(`unknown command ${command}; see securechat --help`);
  if (!values.user) throw new CliError('who are you? pass --user NAME (or set SECURECHAT_USER)');

  const tty = Boolean(process.stdin.isTTY) && !values['password-stdin'];
  // The hidden prompt needs the terminal to itself: ask before readline takes it over.
  let password = tty ? await promptHidden(`Password for ${values.user}: `) : undefined;
  // Standard input carries the password line (with --password-stdin) and then, in the menu, commands.
  const lines = readline.createInterface({
    input: process.stdin,
    output: tty ? process.stdout : undefined,
    terminal: tty,
  });
  const queue = new LineQueue(lines);
  if (password === undefined) {
    if (!values['password-stdin'])
      throw new CliError('no terminal to prompt for the password on; use --password-stdin');
    password = await queue.next();
    if (password === undefined) throw new CliError('--password-stdin: standard input is empty');
  }

  let ca: string | undefined;
  if (values.ca) {
    ca = await readFile(values.ca, 'utf8').catch((error) => {
      throw new CliError(`--ca ${values.ca}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
    });
  }
  const abort = new AbortController();
  const session = await Session.open({
    ca,
    server: values.server,
    username: values.user,
    password,
    keysDir,
    signal: abort.signal,
  });
  if (!command) {
    await interactive(session, queue, tty);
    return 0;
  }
  lines.close();

  const ctx: Context = {
    session,
    json: values.json,
    say: (t) => {
      if (!values.json) console.log(t);
    },
    warn: (t) => console.error(t),
    result: (v) => {
      if (values.json) console.log(JSON.stringify(v));
    },
    currentChat: values.chat,
    pending: [],
  };
  try {
    switch (command) {
      case 'status':
        await users.status(ctx, args);
        break;
      case 'online':
        await users.online(ctx);
        break;
      case 'users':
        await users.users(ctx);
        break;
      case 'chats':
        await chats.list(ctx);
        break;
      case 'chat':
        await chats.create(ctx, args);
        break;
      case 'invite':
        await chats.invite(ctx, values.chat, args);
        break;
      case 'join':
        await chats.join(ctx, args[0] ?? values.chat);
        break;
      case 'leave':
        await chats.leave(ctx, values.chat);
        break;
      case 'send':
        await messages.send(ctx, values.chat, args.join(' '), values.sig);
        break;
      case 'history':
        await messages.history(ctx, values.chat, values.limit ? Number.parseInt(values.limit, 10) || 20 : 20);
        break;
      case 'fingerprint':
        await keys.fingerprints(ctx, args[0]);
        break;
      case 'trust':
        await keys.trust(ctx, args[0]);
        break;
      case 'listen': {
        const only = values.chat ? await chats.resolveChat(ctx, values.chat) : undefined;
        ctx.currentChat = only;
        const stop = () => abort.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        const print = values.json ? { ...ctx, say: () => {}, warn: (t: string) => console.error(t) } : ctx;
        await follow(
          session.api,
          {
            onEvent: async (event) => {
              if (values.json)
                console.log(JSON.stringify({ event: event.type, id: event.id ?? null, data: event.data }));
              await showEvent(print, event, only);
            },
            onStatus: (status, detail) =>
              console.error(status === 'connected' ? '* connected' : `* ${detail}`),
          },
          abort.signal,
        );
        break;
      }
    }
  } finally {
    await session.close();
  }
  return 0;
}

const COMMANDS = new Set([
  'status',
  'online',
  'users',
  'chats',
  'chat',
  'invite',
  'join',
  'leave',
  'send',
  'history',
  'fingerprint',
  'trust',
  'listen',
]);

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`securechat: ${describe(error)}`);
    if (process.env.SECURECHAT_DEBUG) console.error(error);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  },
);
