import * as account from './account.js';
import type { Command } from './command.js';
import * as keys from './keys.js';
import { keysDir } from './output.js';

/** The commands about keys and the account, and the menu's own: fingerprints and trust, password and keys, help and quit. */
export const KEY_COMMANDS: readonly Command[] = [
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
      needsPassword: true,
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
    name: 'keys',
    oneShot: {
      needsPassword: true,
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
