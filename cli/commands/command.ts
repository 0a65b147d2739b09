import type { Options } from '../args.js';
import type { Context } from '../context.js';

/** A line of help: the usage, and what it does (a `\n` goes on under it). */
export type Help = readonly [usage: string, text: string];

/** What the menu lends its commands. */
export interface Menu {
  quit(): Promise<void>;
  showHelp(): void;
}

/**
 * One command of the CLI, as each way of running it sees it: `securechat <name>` without a login
 * (`local`) or logged in (`oneShot`), and typed in the menu (`menu`). `--help` and the menu's
 * `help` list them in the table's order.
 */
export interface Command {
  name: string;
  /** `when`: whether these options are for the local run (else the logged-in one); always if absent. */
  local?: { help: Help[]; when?(options: Options): boolean; run(options: Options): Promise<void> };
  oneShot?: {
    help: Help[];
    /** `login`: the session is kept (cli/saved-session.ts) instead of logged out at the end. */
    savesSession?: boolean;
    /** Asks for the password again (a password or key change): never runs on a kept session. */
    needsPassword?: boolean;
    /** Refused without --chat. */
    needsChat?: boolean;
    /** A changed server key is shown, not refused (`SessionOptions.inspectServerKey`). */
    inspectsServerKey?: (args: string[]) => boolean;
    run(
      ctx: Context,
      args: string[],
      call: {
        options: Options;
        signal: AbortSignal;
        /** The password this command logged in with (a password or key change asks for it again). */
        password?: string;
        /** A new password: the next line of standard input (--password-stdin), or asked twice. */
        newPassword?: () => Promise<string>;
      },
    ): Promise<void>;
  };
  menu?: { aliases?: string[]; help: Help[]; run(ctx: Context, args: string[], menu: Menu): Promise<void> };
}
