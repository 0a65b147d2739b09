import type { Help } from './commands/command.js';
import { COMMANDS } from './commands/table.js';

/**
 * Help lines as the terminal shows them: the usage in a column `width` wide, then the text; with
 * `wrap`, a longer usage takes its own line and the text goes under the column.
 */
function lines(help: Help[], width: number, wrap: boolean): string {
  const indent = ' '.repeat(width + 4);
  return help
    .map(([usage, text]) => {
      const body = text.replaceAll('\n', `\n${indent}`);
      return wrap && usage.length > width
        ? `  ${usage}\n${indent}${body}`
        : `  ${usage.padEnd(width)}  ${body}`;
    })
    .join('\n');
}

/** The help lines of every command, for one way of running them, in the table's order. */
const helpOf = (part: 'local' | 'oneShot' | 'menu') => COMMANDS.flatMap((c) => c[part]?.help ?? []);

/** The menu's `help`. */
export const MENU = `Menu commands (interactive):
${lines(helpOf('menu'), 19, false)}
Anything else is a message to the current chat.`;

/** `securechat --help`. */
export const HELP = `securechat — end-to-end encrypted, signed group chat

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
${lines(helpOf('local'), 18, true)}

One-shot commands (securechat [options] <command>):
${lines(helpOf('oneShot'), 18, true)}

${MENU}`;
