import path from 'node:path';
import readline from 'node:readline';
import { escapeControls, follow, SeenMessages, shortId } from '../src/client/index.js';
import { promptHidden } from '../src/util/prompt.js';
import { COMMANDS, NEEDS_CHAT, parseCommandLine } from './args.js';
import { account, chats, keys, keystore, messages, users } from './commands/index.js';
import { checkTransport, newPassword, readCa } from './connect.js';
import type { Context } from './context.js';
import { CliError, describe } from './errors.js';
import { commitWaiting, showEvent } from './events.js';
import { installStops } from './exits.js';
import { jsonLine, printable } from './format.js';
import { HELP } from './help.js';
import { interactive } from './interactive.js';
import { LineQueue } from './lines.js';
import { Session } from './session.js';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
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
  if (command === 'keygen') {
    const out = await keystore.keygen({
      keysDir,
      user: values.user,
      force: values.force,
      exportPublic: values['export-public'],
    });
    for (const warning of out.warnings) console.error(`securechat: ${warning}`);
    if (values.json) console.log(jsonLine(out.result));
    else for (const line of out.lines) console.log(printable(line));
    return 0;
  }
  if (command === 'register') {
    checkTransport(values.server, values.insecure);
    const out = await account.register({
      keysDir,
      user: values.user,
      server: values.server,
      ca: await readCa(values.ca),
      code: values.code ?? process.env.SECURECHAT_REGISTER_CODE,
      askCode: async () =>
        process.stdin.isTTY && !values['password-stdin'] ? promptHidden('Registration code: ') : '',
      password: () => newPassword(values.user ?? '', values['password-stdin']),
    });
    if (values.json) console.log(jsonLine(out.result));
    else for (const line of out.lines) console.log(printable(line));
    return 0;
  }
  if (command && !COMMANDS.has(command))
    throw new CliError(`unknown command ${escapeControls(command)}; see securechat --help`);
  if (!values.user) throw new CliError('who are you? pass --user NAME (or set SECURECHAT_USER)');
  if (command && NEEDS_CHAT.has(command) && !values.chat)
    throw new CliError(
      `${command} needs --chat ID (a chat id or a unique prefix of one; see \`securechat chats\`)`,
    );
  checkTransport(values.server, values.insecure);

  // Signals and broken pipes abort the run from here on; after login, they log out (cli/exits.ts).
  const abort = new AbortController();
  const stops = installStops(abort);
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

  const ca = await readCa(values.ca);
  stops.arm();
  const session = await Session.open({
    ca,
    server: values.server,
    username: values.user,
    password,
    keysDir,
    signal: abort.signal,
    inspectServerKey: command === 'fingerprint' || (command === 'trust' && args[0] === keys.SERVER),
  });
  if (!command) {
    try {
      await interactive(session, queue, tty, abort.signal);
    } catch (error) {
      await session.close(); // the menu logs out when it quits; this is for when it fails
      throw error;
    }
    return 0;
  }
  lines.close();

  const ctx: Context = {
    session,
    json: values.json,
    say: (t) => {
      if (!values.json) console.log(printable(t));
    },
    warn: (t) => console.error(printable(t)),
    result: (v) => {
      if (values.json) console.log(jsonLine(v));
    },
    currentChat: values.chat,
    pending: [],
    seen: new SeenMessages(),
  };
  session.notice = (line, warn) => (warn ? ctx.warn(line) : ctx.say(line));
  // Ctrl-C, SIGTERM, SIGHUP or a closed pipe stops the command; the finally below still logs out.
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
        await chats.create(ctx, args, values.members);
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
      case 'send': {
        const sent = await messages.send(ctx, values.chat, args.join(' '), values.sig);
        ctx.say(`sent as #${sent.seq} in chat ${shortId(sent.chatId)} (epoch ${sent.epoch})`);
        break;
      }
      case 'history':
        await messages.history(ctx, values.chat, values.limit ? Number.parseInt(values.limit, 10) || 20 : 20);
        break;
      case 'fingerprint':
        await keys.fingerprints(ctx, args[0]);
        break;
      case 'trust':
        await keys.trust(ctx, args[0], args[1]);
        break;
      case 'listen': {
        const only = values.chat ? await chats.resolveChat(ctx, values.chat) : undefined;
        ctx.currentChat = only;
        const print = values.json ? { ...ctx, say: () => {} } : ctx;
        await follow(
          session.api,
          {
            onEvent: async (event) => {
              // In --json, only what the client took (not another chat's, not a refusal, not a
              // repeat), and of it only the checked fields, never the server's raw data.
              const taken = await showEvent(print, event, only);
              if (taken && values.json)
                console.log(jsonLine({ event: event.type, id: event.id ?? null, data: taken }));
            },
            onStatus: (status, detail) => {
              console.error(status === 'connected' ? '* connected' : `* ${escapeControls(detail ?? '')}`);
              if (status === 'connected') void commitWaiting(ctx);
            },
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(
      `securechat: ${error?.name === 'AbortError' ? 'stopped' : escapeControls(describe(error))}`,
    );
    if (process.env.SECURECHAT_DEBUG) console.error(error);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  },
);
