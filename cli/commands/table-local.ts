import { promptHidden } from '../../src/util/prompt.js';
import { checkTransport, newPassword, readCa } from '../connect.js';
import { endSavedSession, forgetSession, sessionFile } from '../saved-session.js';
import * as account from './account.js';
import type { Command } from './command.js';
import { keygen } from './keygen.js';
import * as keys from './keys.js';
import { keysDir, print } from './output.js';
import { register } from './register.js';

/** The commands about the user's key store and session: make keys, register, decrypt an envelope by hand, keep or end a session. */
export const LOCAL_COMMANDS: readonly Command[] = [
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
      when: (options) => !options.everywhere,
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
    oneShot: {
      help: [['logout --everywhere', 'end every session of yours, on every device']],
      async run(ctx, _args, { options }) {
        await account.logoutEverywhere(ctx);
        // a session `securechat login` kept is among those ended
        if (options.user) await forgetSession(sessionFile(keysDir(options), options.user));
      },
    },
  },
];
