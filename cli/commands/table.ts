import path from 'node:path';
import { shortId } from '../../src/client/index.js';
import { promptHidden } from '../../src/util/prompt.js';
import type { Options } from '../args.js';
import { checkTransport, newPassword, readCa } from '../connect.js';
import { jsonLine, printable, shortScheme } from '../format.js';
import { endSavedSession } from '../saved-session.js';
import * as account from './account.js';
import * as chats from './chats.js';
import type { Command } from './command.js';
import { keygen } from './keygen.js';
import * as keys from './keys.js';
import { listen } from './listen.js';
import * as messages from './messages.js';
import { register } from './register.js';
import * as users from './users.js';

const keysDir = (options: Options) => path.resolve(options.keys);

/** The result as one JSON line with --json, else the lines for people. */
function print(options: Options, out: { result: unknown; lines: string[] }): void {
  if (options.json) console.log(jsonLine(out.result));
  else for (const line of out.lines) console.log(printable(line));
}

/** A count from the command line (`--limit`, or `history n` in the menu): 20 unless given. */
const count = (given: string | undefined) => (given ? Number.parseInt(given, 10) || 20 : 20);

export const COMMANDS: readonly Command[] = [
  {
    name: 'keygen',
    local: {
      help: [
        [
          'keygen',
          'make your key store (four key pairs) in --keys DIR/users/<--user>/;\nrefuses to replace one without --force; prints the fingerprints',
        ],
        [
          'keygen --export-public DIR',
          "copy the public halves of your key store to DIR, for an administrator's\n`npm run user:add -- NAME --public-keys DIR`",
        ],
      ],
      async run(options) {
        const out = await keygen({
          keysDir: keysDir(options),
          user: options.user,
          force: options.force,
          exportPublic: options['export-public'],
        });
        for (const warning of out.warnings) console.error(`securechat: ${warning}`);
        print(options, out);
      },
    },
  },
  {
    name: 'register',
    local: {
      help: [
        [
          'register [--code CODE]',
          'register --user with the code your administrator made\n(`npm run user:invite -- NAME`): makes the key store first if there is\nnone, asks for a new password twice (or --password-stdin); then log in',
        ],
        [
          'register --reset [--code CODE]',
          'lost your keys or your password: new keys made here, registered with the\nreset code your administrator made (`npm run user:reset -- NAME`), and a new\npassword; the old key files (if any) are moved aside',
        ],
      ],
      async run(options) {
        checkTransport(options.server, options.insecure);
        if (options.reset) {
          const code = options.code ?? process.env.SECURECHAT_REGISTER_CODE;
          const out = await account.registerReset({
            keysDir: keysDir(options),
            user: options.user,
            server: options.server,
            ca: await readCa(options.ca),
            code: code || (process.stdin.isTTY ? await promptHidden('Reset code: ') : undefined),
            newPassword: await newPassword(options.user ?? '', options['password-stdin']),
          });
          return print(options, out);
        }
        const out = await register({
          keysDir: keysDir(options),
          user: options.user,
          server: options.server,
          ca: await readCa(options.ca),
          code: options.code ?? process.env.SECURECHAT_REGISTER_CODE,
          askCode: async () =>
            process.stdin.isTTY && !options['password-stdin'] ? promptHidden('Registration code: ') : '',
          password: () => newPassword(options.user ?? '', options['password-stdin']),
        });
        print(options, out);
      },
    },
  },
  {
    name: 'decrypt',
    local: {
      help: [
        [
          'decrypt',
          "teaching aid: unwrap a key envelope (--envelope FILE or stdin, or\n--wrapped BASE64) with --user's key store and print the chat key in hex;\n--server-key FILE checks the server's signature first",
        ],
      ],
      async run(options) {
        const out = await keys.decrypt({
          keysDir: keysDir(options),
          user: options.user,
          envelope: options.envelope,
          wrapped: options.wrapped,
          serverKey: options['server-key'],
        });
        if (options.json) console.log(JSON.stringify({ key: out.key }));
        else for (const line of out.lines) console.log(line);
      },
    },
  },
  {
    name: 'login',
    oneShot: {
      help: [
        [
          'login',
          'log in once and keep the session (in your key store folder, readable by\nyou only) for the one-shot commands that follow, until it expires or\n`securechat logout`',
        ],
      ],
      savesSession: true,
      async run(ctx) {
        ctx.say(
          `logged in as ${ctx.session.username} until ${ctx.session.expiresAt}; commands use this session until then or \`securechat logout\``,
        );
        ctx.result({ username: ctx.session.username, expiresAt: ctx.session.expiresAt });
      },
    },
  },
  {
    name: 'logout',
    local: {
      help: [['logout', 'end the session `securechat login` kept']],
      async run(options) {
        checkTransport(options.server, options.insecure);
        const line = await endSavedSession({
          keysDir: keysDir(options),
          user: options.user,
          server: options.server,
          ca: await readCa(options.ca),
        });
        print(options, { result: { loggedOut: !line.startsWith('no ') }, lines: [line] });
      },
    },
  },
  {
    name: 'status',
    oneShot: { help: [['status <user>', 'online or not, and when last seen']], run: users.status },
    menu: { help: [['status <user>', 'is that user online?']], run: users.status },
  },
  {
    name: 'online',
    oneShot: { help: [['online', 'who is online']], run: users.online },
    menu: { aliases: ['all'], help: [['all', 'who is online']], run: users.online },
  },
  {
    name: 'users',
    oneShot: { help: [['users', 'every user with their presence']], run: users.users },
  },
  {
    name: 'chats',
    oneShot: { help: [['chats', 'your chats']], run: chats.list },
    menu: {
      help: [['chats', 'your chats (* current, ? invited); switch <chatId> to change']],
      run: chats.list,
    },
  },
  {
    name: 'switch',
    menu: {
      help: [], // told by `chats`
      async run(ctx, args) {
        ctx.currentChat = await chats.resolveChat(ctx, args[0] ?? '');
        ctx.say(`now in chat ${shortId(ctx.currentChat)}`);
      },
    },
  },
  {
    name: 'chat',
    oneShot: {
      help: [
        [
          'chat <users…>',
          "start a chat (prints its id; says who was offline or unknown); with\n--members, only its members' clients make its keys: the server cannot read it",
        ],
      ],
      run: (ctx, args, { options }) => chats.create(ctx, args, options.members),
    },
    menu: {
      help: [
        ['chat <users…>', 'start a chat (you are told who is offline or unknown)'],
        ['chat --members <users…>', 'a chat only its members can read (their clients make its keys)'],
      ],
      run: (ctx, args) => chats.create(ctx, args),
    },
  },
  {
    name: 'invite',
    oneShot: {
      help: [['invite <users…>', 'invite to --chat']],
      needsChat: true,
      run: (ctx, args, { options }) => chats.invite(ctx, options.chat, args),
    },
    menu: {
      help: [['invite <users…>', 'invite more people to the current chat (the key rotates)']],
      run: (ctx, args) => chats.invite(ctx, undefined, args),
    },
  },
  {
    name: 'join',
    oneShot: {
      help: [['join [chatId]', 'accept an invitation (no id needed when there is one)']],
      run: (ctx, args, { options }) => chats.join(ctx, args[0] ?? options.chat),
    },
    menu: {
      help: [['join [chatId]', 'accept an invitation (no id needed when there is one)']],
      run: (ctx, args) => chats.join(ctx, args[0]),
    },
  },
  {
    name: 'leave',
    oneShot: {
      help: [['leave', 'leave --chat']],
      needsChat: true,
      run: (ctx, _args, { options }) => chats.leave(ctx, options.chat),
    },
    menu: {
      help: [['leave', 'leave the current chat (the key rotates for the others)']],
      run: (ctx, args) => chats.leave(ctx, args[0]),
    },
  },
  {
    name: 'send', // in the menu, any line that is no command
    oneShot: {
      help: [['send <text…>', "send to --chat (prints the message's seq)"]],
      needsChat: true,
      async run(ctx, args, { options }) {
        const sent = await messages.send(ctx, options.chat, args.join(' '), options.sig);
        ctx.say(`sent as #${sent.seq} in chat ${shortId(sent.chatId)} (epoch ${sent.epoch})`);
      },
    },
  },
  {
    name: 'sig',
    menu: {
      help: [['sig rsa|dsa|ed25519', 'the signature scheme for your messages (kept until changed)']],
      async run(ctx, args) {
        if (args.length === 0) return ctx.say(`signing with ${shortScheme(ctx.session.sig)}`);
        await ctx.session.setSig(messages.parseScheme(args[0]));
        ctx.say(`now signing with ${shortScheme(ctx.session.sig)}`);
      },
    },
  },
  {
    name: 'history',
    oneShot: {
      help: [['history', 'the last --limit messages of --chat, verified and decrypted']],
      needsChat: true,
      run: (ctx, _args, { options }) => messages.history(ctx, options.chat, count(options.limit)),
    },
    menu: {
      help: [['history [n]', 'the last n messages of the current chat (default 20)']],
      run: (ctx, args) => messages.history(ctx, undefined, count(args[0])),
    },
  },
  {
    name: 'listen',
    oneShot: {
      help: [['listen', 'print events (and verified messages) until Ctrl-C']],
      run: (ctx, _args, { options, signal }) => listen(ctx, options.chat, signal),
    },
  },
  {
    name: 'fingerprint',
    oneShot: {
      help: [
        [
          'fingerprint [user]',
          "key fingerprints (yours and the server's, or a user's with your safety\nnumber with them); works when the server's key changed, showing the pinned\nand the new one",
        ],
      ],
      inspectsServerKey: () => true,
      run: (ctx, args) => keys.fingerprints(ctx, args[0]),
    },
    menu: {
      help: [['fingerprint [user]', "key fingerprints, yours or a user's (compare them out of band)"]],
      run: (ctx, args) => keys.fingerprints(ctx, args[0]),
    },
  },
  {
    name: 'trust',
    oneShot: {
      help: [
        [
          'trust <user> FP',
          'accept a user\'s changed keys: FP is the "all keys" fingerprint that\n`fingerprint <user>` shows, compared with the user out of band',
        ],
        ['trust --server FP', "accept the server's changed key, once its operator confirmed FP"],
      ],
      inspectsServerKey: (args) => args[0] === keys.SERVER,
      run: (ctx, args) => keys.trust(ctx, args[0], args[1]),
    },
    menu: {
      help: [
        ['trust <user> [FP]', "accept a user's changed keys: those `fingerprint <user>` showed, or FP"],
        ['trust --server [FP]', "accept the server's changed key (FP, or the one `fingerprint` showed)"],
      ],
      run: (ctx, args) => keys.trust(ctx, args[0], args[1]),
    },
  },
  {
    name: 'password',
    oneShot: {
      help: [
        [
          'password',
          'change your password (the new one asked twice, or the next line of\nstandard input); every other session of yours ends',
        ],
      ],
      async run(ctx, _args, { password, newPassword }) {
        if (password === undefined || !newPassword) throw new Error('password: no password to change');
        await account.changePassword(ctx, password, await newPassword());
      },
    },
  },
  {
    name: 'logout',
    oneShot: {
      help: [['logout --everywhere', 'end every session of yours, on every device']],
      async run(ctx, _args, { options }) {
        if (!options.everywhere) return ctx.say('logged out (every command logs out when it ends)');
        await account.logoutEverywhere(ctx);
      },
    },
  },
  {
    name: 'keys',
    oneShot: {
      help: [
        [
          'keys replace',
          'new keys made here and registered in place of your current ones, signed\nwith your current key; the old key files are kept in a folder beside',
        ],
      ],
      async run(ctx, args, { options, password }) {
        if (args[0] !== 'replace') throw new Error('keys: the one subcommand is `keys replace`');
        if (password === undefined) throw new Error('keys replace: no password');
        await account.replace(ctx, keysDir(options), password);
      },
    },
  },
  {
    name: 'help',
    menu: {
      aliases: ['?'],
      help: [['help', 'this list']],
      run: async (_ctx, _args, menu) => menu.showHelp(),
    },
  },
  {
    name: 'quit',
    menu: {
      aliases: ['exit'],
      help: [['quit', 'log out and leave (Ctrl-D and Ctrl-C too)']],
      run: (_ctx, _args, menu) => menu.quit(),
    },
  },
];

/** The command `securechat <name>` runs, if any. */
export const commandNamed = (name: string) => COMMANDS.find((c) => c.name === name && (c.local ?? c.oneShot));

/** The menu's command `word` names, if any. */
export const menuCommand = (word: string) =>
  COMMANDS.find((c) => c.menu && (c.name === word || c.menu.aliases?.includes(word)))?.menu;
