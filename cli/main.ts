import path from 'node:path';
import readline from 'node:readline';
import { ApiError, ClientError, escapeControls, SeenMessages } from '../src/client/index.js';
import { promptHidden } from '../src/util/prompt.js';
import { parseCommandLine } from './args.js';
import { commandNamed } from './commands/table.js';
import { newPassword as askNewPassword, checkTransport, readCa } from './connect.js';
import type { Context } from './context.js';
import { CliError, describe } from './errors.js';
import { installStops } from './exits.js';
import { jsonLine, printable } from './format.js';
import { HELP } from './help.js';
import { interactive } from './interactive.js';
import { LineQueue } from './lines.js';
import { forgetSession, loadSession, saveSession, sessionFile } from './saved-session.js';
import { Session } from './session.js';

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const [name, ...args] = positionals;
  const command = name ? commandNamed(name) : undefined; // no command (or ''): the menu
  if (name && !command) throw new CliError(`unknown command ${escapeControls(name)}; see securechat --help`);
  if (command?.local && (command.local.when?.(values) ?? true)) {
    await command.local.run(values);
    return 0;
  }
  const oneShot = command?.oneShot;
  if (!values.user) throw new CliError('who are you? pass --user NAME (or set SECURECHAT_USER)');
  if (oneShot?.needsChat && !values.chat)
    throw new CliError(
      `${name} needs --chat ID (a chat id or a unique prefix of one; see \`securechat chats\`)`,
    );
  checkTransport(values.server, values.insecure);

  // Signals and broken pipes abort the run from here on; after login, they log out (cli/exits.ts).
  const abort = new AbortController();
  const stops = installStops(abort);
  const keys = path.resolve(values.keys);
  // a one-shot command carries on the session `securechat login` kept, if there is one
  const file = sessionFile(keys, values.user);
  const saved =
    oneShot && !oneShot.savesSession && !oneShot.needsPassword
      ? await loadSession(file, values.server, values.user)
      : undefined;
  const tty = Boolean(process.stdin.isTTY) && !values['password-stdin'] && !saved;
  // The hidden prompt needs the terminal to itself: ask before readline takes it over.
  let password = tty ? await promptHidden(`Password for ${values.user}: `) : undefined;
  // Standard input carries the password line (with --password-stdin) and then, in the menu, commands;
  // on a terminal readline takes it over once logged in (a password asked again needs it first).
  const readLines = () =>
    readline.createInterface({
      input: process.stdin,
      output: tty ? process.stdout : undefined,
      terminal: tty,
    });
  let lines = tty ? undefined : readLines();
  let queue = lines && new LineQueue(lines);
  if (password === undefined && !saved) {
    if (!values['password-stdin'])
      throw new CliError('no terminal to prompt for the password on; use --password-stdin');
    password = await queue?.next();
    if (password === undefined) throw new CliError('--password-stdin: standard input is empty');
  }

  const ca = await readCa(values.ca);
  stops.arm();
  const open = () =>
    Session.open({
      ca,
      server: values.server,
      username: values.user ?? '',
      password,
      token: saved?.token,
      keysDir: keys,
      signal: abort.signal,
      inspectServerKey: oneShot?.inspectsServerKey?.(args) ?? false,
    }).catch(async (error) => {
      if (!(saved && error instanceof ApiError && error.status === 401)) throw error;
      await forgetSession(file);
      throw new CliError(
        `the session \`securechat login\` kept has ended (${error.code}): log in again with \`securechat login\``,
      );
    });
  let session: Session | undefined;
  for (let tries = 1; !session; tries++) {
    try {
      session = await open();
    } catch (error) {
      // as ssh does: a password typed at the prompt that fails is asked again, three tries in all
      const wrong = error instanceof ClientError && error.message.startsWith('login failed:');
      if (!tty || !wrong || tries >= 3) throw error;
      console.error(`securechat: ${error.message}; try again`);
      password = await promptHidden(`Password for ${values.user}: `);
    }
  }
  if (!lines) lines = readLines();
  queue ??= new LineQueue(lines);
  if (!oneShot) {
    try {
      await interactive(session, queue, tty, abort.signal);
    } catch (error) {
      await session.close(); // the menu logs out when it quits; this is for when it fails
      throw error;
    }
    return 0;
  }
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
  // a new password (securechat password) is the next line of standard input, or asked twice
  const newPassword = async () => {
    if (tty) {
      lines.close();
      return askNewPassword(values.user ?? '', false);
    }
    const line = await queue.next();
    if (line === undefined) throw new CliError('--password-stdin: give the new password on the next line');
    return line;
  };
  let keep = Boolean(saved);
  try {
    await oneShot.run(ctx, args, { options: values, signal: abort.signal, password, newPassword });
    if (oneShot.savesSession && session.api.token && session.expiresAt) {
      await saveSession(file, {
        server: values.server,
        username: values.user,
        token: session.api.token,
        expiresAt: session.expiresAt,
      });
      keep = true;
    }
  } finally {
    lines.close();
    // a kept session stays logged in (for the next command); any other is logged out
    if (keep) await session.detach();
    else await session.close();
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
