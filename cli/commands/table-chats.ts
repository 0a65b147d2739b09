import { shortId } from '../../src/client/index.js';
import { shortScheme } from '../format.js';
import * as chats from './chats.js';
import type { Command } from './command.js';
import { listen } from './listen.js';
import * as messages from './messages.js';
import { count } from './output.js';
import * as users from './users.js';

/** The commands about people and chats: presence, chats and their members, messages. */
export const CHAT_COMMANDS: readonly Command[] = [
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
];
