import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { follow, SeenMessages } from '../src/client/index.js';
import { promptHidden, readStdin } from '../src/util/prompt.js';
import { account, chats, keys, keystore, messages, users } from './commands/index.js';
import type { Context } from './context.js';
import { CliError, describe } from './errors.js';
import { showEvent } from './events.js';
import { installStops } from './exits.js';
import { escapeControls, jsonLine, printable, shortId } from './format.js';
import { interactive, MENU } from './interactive.js';
import { LineQueue } from './lines.js';
import { Session } from './session.js';

const HELP = `securechat — end-to-end encrypted, signed group chat

Usage:
  securechat [options]                  the interactive menu
  securechat [options] <command> [args] one action, then log out

Options:
  --server URL        the server (default $SECURECHAT_SERVER or http://127.0.0.1:8080)
  --user NAME         who you are (default $SECURECHAT_USER)
  --ca FILE           trust this CA or self-signed certificate for an https server (default $SECURECHAT_CA)
  --keys DIR          the key store folder holding users/<NAME>/ (default $SECURECHAT_KEYS_DIR,
                      else $XDG_DATA_HOME/securechat, else ~/.securechat)
  --insecure          send the password over plain http:// to a host that is not this machine
  --password-stdin    read the password from the first line of standard input (else it is prompted)
  --code CODE         register: the one-time registration code from your administrator (default
                      $SECURECHAT_REGISTER_CODE, else asked on a terminal; on a shared machine
                      prefer those: other users can read a command line while it runs)
  --force             keygen: replace an existing key store (what was sent to the old keys is lost)
  --json              print results as JSON (commands only)
  --chat ID           the chat (a full id or a unique prefix) for invite, leave, send, history, listen
  --sig rsa|dsa|ed25519  the signature scheme for send (default: your saved setting, rsa at first)
  --limit N           how many messages history shows (default 20)
  -h, --help          this help

Your own keys and account (no login needed):
  keygen              make your key store (four key pairs) in --keys DIR/users/<--user>/;
                      refuses to replace one without --force; prints the fingerprints
  keygen --export-public DIR
                      copy the public halves of your key store to DIR, for an administrator's
                      \`npm run user:add -- NAME --public-keys DIR\`
  register [--code CODE]
                      register --user with the code your administrator made
                      (\`npm run user:invite -- NAME\`): makes the key store first if there is
                      none, asks for a new password twice (or --password-stdin); then log in

One-shot commands (securechat [options] <command>):
  status <user>       online or not, and when last seen
  online              who is online
  users               every user with their presence
  chats               your chats
  chat <users…>       start a chat (prints its id; says who was offline or unknown)
  invite <users…>     invite to --chat
  join [chatId]       accept an invitation (no id needed when there is one)
  leave               leave --chat
  send <text…>        send to --chat (prints the message's seq)
  history             the last --limit messages of --chat, verified and decrypted
  listen              print events (and verified messages) until Ctrl-C
  fingerprint [user]  key fingerprints (yours and the server's, or a user's); works when the
                      server's key changed, showing the pinned and the new one
  trust <user> FP     accept a user's changed keys: FP is the "all keys" fingerprint that
                      \`fingerprint <user>\` shows, compared with the user out of band
  trust --server FP   accept the server's changed key, once its operator confirmed FP
  decrypt             teaching aid: unwrap a key envelope (--envelope FILE or stdin, or
                      --wrapped BASE64) with --user's key store and print the chat key in hex;
                      --server-key FILE checks the server's signature first

${MENU}`;

/** Where key stores are when neither --keys nor SECURECHAT_KEYS_DIR says: a per-user folder. */
function defaultKeysDir(): string {
  const xdg = process.env.XDG_DATA_HOME;
  return xdg && path.isAbsolute(xdg) ? path.join(xdg, 'securechat') : path.join(homedir(), '.securechat');
}

const STRING_OPTIONS = new Set([
  '--server',
  '--user',
  '--keys',
  '--ca',
  '--chat',
  '--sig',
  '--limit',
  '--envelope',
  '--wrapped',
  '--server-key',
  '--code',
  '--export-public',
]);

/**
 * `trust --server`: the server key has its own syntax (no username can shadow it), but `--server`
 * is also the URL option, so after the `trust` command it is taken out and the words are made
 * positionals (after `--`): `trust --server FP` → `-- trust --server FP`.
 */
function rewriteTrustServer(argv: string[]): string[] {
  const command = argv.findIndex((a, i) => !a.startsWith('-') && !STRING_OPTIONS.has(argv[i - 1]));
  if (command < 0 || argv[command] !== 'trust' || argv.slice(0, command).includes('--')) return argv;
  const options: string[] = [];
  const words: string[] = [];
  let server = false;
  for (let i = command + 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--server' && !server) server = true;
    else if (a === '--') {
      words.push(...argv.slice(i + 1));
      break;
    } else if (a.startsWith('-')) {
      options.push(a);
      if (STRING_OPTIONS.has(a) && i + 1 < argv.length) options.push(argv[++i]);
    } else words.push(a);
  }
  if (!server) return argv;
  return [...argv.slice(0, command), ...options, '--', 'trust', keys.SERVER, ...words];
}

/** A password over plain http:// may cross the network only to this machine, unless --insecure. */
function checkTransport(server: string, insecure: boolean): void {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return; // the Api says what is wrong with it
  }
  if (url.protocol !== 'http:') return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (loopback) return;
  if (!insecure)
    throw new CliError(
      `refusing to send your password over plain http:// to ${host}: use https:// (with --ca FILE for the server's own certificate), or pass --insecure`,
    );
  console.error(
    `securechat: WARNING: --insecure: your password and messages' metadata cross the network to ${host} unencrypted`,
  );
}

async function readCa(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  return readFile(file, 'utf8').catch((error) => {
    throw new CliError(`--ca ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
}

/** A new password: asked twice on a terminal, or the first line of standard input. */
async function newPassword(user: string, fromStdin: boolean): Promise<string> {
  if (fromStdin) return (await readStdin()).split(/\r?\n/)[0];
  if (!process.stdin.isTTY)
    throw new CliError('no terminal to prompt for the password on; use --password-stdin');
  const password = await promptHidden(`New password for ${user}: `);
  if ((await promptHidden('Again: ')) !== password) throw new CliError('the passwords differ');
  return password;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: rewriteTrustServer(argv),
    allowPositionals: true,
    options: {
      server: { type: 'string', default: process.env.SECURECHAT_SERVER ?? 'http://127.0.0.1:8080' },
      user: { type: 'string', default: process.env.SECURECHAT_USER },
      keys: { type: 'string', default: process.env.SECURECHAT_KEYS_DIR || defaultKeysDir() },
      insecure: { type: 'boolean', default: false },
      ca: { type: 'string', default: process.env.SECURECHAT_CA },
      'password-stdin': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      chat: { type: 'string' },
      sig: { type: 'string' },
      limit: { type: 'string' },
      envelope: { type: 'string' },
      wrapped: { type: 'string' },
      'server-key': { type: 'string' },
      code: { type: 'string' },
      'export-public': { type: 'string' },
      force: { type: 'boolean', default: false },
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
            onStatus: (status, detail) =>
              console.error(status === 'connected' ? '* connected' : `* ${escapeControls(detail ?? '')}`),
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

const NEEDS_CHAT = new Set(['invite', 'leave', 'send', 'history']);

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
    console.error(
      `securechat: ${error?.name === 'AbortError' ? 'stopped' : escapeControls(describe(error))}`,
    );
    if (process.env.SECURECHAT_DEBUG) console.error(error);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  },
);
