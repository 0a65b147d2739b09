import { parseArgs } from 'node:util';
import { openStore } from '../bootstrap/backends.js';
import { loadConfig } from '../config.js';
import { timestamp } from '../crypto/time.js';
import { RESERVED_USERNAMES, USERNAME } from '../services/accounts.js';
import { DEFAULT_CODE_TTL_SECONDS, inviteUser } from '../services/registration.js';
import type { RegistrationCode } from '../store/user-types.js';

const USAGE = `Usage: npm run user:invite -- <username> [--ttl 24h]
       npm run user:invite -- --list
       npm run user:invite -- --revoke <username>

Makes a one-time registration code for <username> and prints it once, alone on the last line.
Give it to that person (over a channel you trust: whoever holds it can take the name); their
client makes their keys on their own device and registers with it (securechat register). The
code is valid once, for that username only, until it expires (--ttl: 30m, 24h, 7d; default
24h). Only its SHA-256 is stored; inviting the same name again replaces the earlier code.

  --list            every code: its username, state (pending, used, expired) and times
  --revoke NAME     deletes the code made for NAME

Uses SECURECHAT_DATA_DIR (or SECURECHAT_DATABASE_URL) like the server; the server may be running.`;

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const MAX_TTL_SECONDS = 30 * 86_400;

/** `30m`, `24h`, `7d`: at least a minute, at most 30 days. */
function parseTtl(text: string): number {
  const match = /^([1-9][0-9]{0,6})([smhd])$/.exec(text);
  const seconds = match ? Number(match[1]) * UNITS[match[2]] : Number.NaN;
  if (!(seconds >= 60 && seconds <= MAX_TTL_SECONDS))
    throw new Error(`--ttl ${text}: give a duration from 1m to 30d such as 30m, 24h or 7d`);
  return seconds;
}

function state(code: RegistrationCode, now: string): string {
  if (code.usedAt) return `used ${code.usedAt}`;
  return code.expiresAt > now ? `pending, expires ${code.expiresAt}` : `expired ${code.expiresAt}`;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: {
      ttl: { type: 'string' },
      list: { type: 'boolean', default: false },
      revoke: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const modes = [values.list, values.revoke !== undefined, positionals.length > 0].filter(Boolean).length;
  if (modes !== 1 || positionals.length > 1)
    throw new Error(`give one username, --list or --revoke\n\n${USAGE}`);
  const username = values.revoke ?? positionals[0];
  if (username !== undefined && !USERNAME.test(username))
    throw new Error(`username must match ${USERNAME.source}`);
  if (positionals.length > 0 && RESERVED_USERNAMES.has(username as string))
    throw new Error(`the username ${username} is reserved`);
  if (values.ttl !== undefined && positionals.length === 0) throw new Error('--ttl goes with a username');
  const ttl = values.ttl === undefined ? DEFAULT_CODE_TTL_SECONDS : parseTtl(values.ttl);

  const config = loadConfig();
  const store = await openStore(config, { warn: console.warn, error: console.error });
  try {
    if (values.list) {
      const now = timestamp();
      const codes = await store.listRegistrationCodes();
      if (codes.length === 0) console.log('no registration codes');
      for (const code of codes) console.log(`${code.username}  ${state(code, now)}`);
      return;
    }
    if (values.revoke !== undefined) {
      if (!(await store.deleteRegistrationCode(values.revoke)))
        throw new Error(`no registration code for ${values.revoke}`);
      console.log(`revoked the registration code for ${values.revoke}`);
      return;
    }
    if (await store.getUser(username)) throw new Error(`user ${username} already exists`);
    const { code, record } = await inviteUser(store, username, ttl);
    console.log(`registration code for ${username}, valid once until ${record.expiresAt}:`);
    console.log(code);
  } finally {
    await store.close();
  }
}

main().catch((error) => {
  console.error(`user:invite: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
