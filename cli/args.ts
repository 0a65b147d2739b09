import { homedir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SERVER } from './commands/keys.js';

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
  return [...argv.slice(0, command), ...options, '--', 'trust', SERVER, ...words];
}

/** The command line: options with their defaults from the environment, and the words after them. */
export function parseCommandLine(argv: string[]) {
  return parseArgs({
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
      members: { type: 'boolean', default: false },
      sig: { type: 'string' },
      limit: { type: 'string' },
      envelope: { type: 'string' },
      wrapped: { type: 'string' },
      'server-key': { type: 'string' },
      code: { type: 'string' },
      'export-public': { type: 'string' },
      force: { type: 'boolean', default: false },
      everywhere: { type: 'boolean', default: false },
      reset: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

/** The command line's options, with their defaults. */
export type Options = ReturnType<typeof parseCommandLine>['values'];
