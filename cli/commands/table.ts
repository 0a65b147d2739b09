import type { Command } from './command.js';
import { CHAT_COMMANDS } from './table-chats.js';
import { KEY_COMMANDS } from './table-keys.js';
import { LOCAL_COMMANDS } from './table-local.js';

/**
 * Every command of the CLI, in the order `--help` and the menu's `help` list them: one entry each
 * (its name, help lines, whether it needs a chat, and how it runs), read by args, main, the menu
 * and the help.
 */
export const COMMANDS: readonly Command[] = [...LOCAL_COMMANDS, ...CHAT_COMMANDS, ...KEY_COMMANDS];

/** The command `securechat <name>` runs, if any. */
export const commandNamed = (name: string) => COMMANDS.find((c) => c.name === name && (c.local ?? c.oneShot));

/** The menu's command `word` names, if any. */
export const menuCommand = (word: string) =>
  COMMANDS.find((c) => c.menu && (c.name === word || c.menu.aliases?.includes(word)))?.menu;
