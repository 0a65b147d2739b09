import { parseArgs } from 'node:util';
import { openStore } from '../bootstrap/backends.js';
import { loadConfig } from '../config.js';
import { makeResetCode } from '../services/account-changes.js';
import { USERNAME } from '../services/accounts.js';

const USAGE = `Usage: npm run user:reset -- <username>

Makes a one-time reset code for <username> and prints it once, alone on the last line. For a
user who lost every device with their key store (or forgot their password): give it to them
over a channel you trust; their client makes new keys on their device and registers them with
it (securechat register --reset), with a new password if they want. The code is valid once,
for 24 hours; only its SHA-256 is stored; making another replaces it. When it is used, every
session of the user ends, and the people they chat with are told that the administrator reset
their keys (they should compare fingerprints before trusting them).

Uses SECURECHAT_DATA_DIR (or SECURECHAT_DATABASE_URL) like the server; the server may be running.`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (positionals.length !== 1) throw new Error(`give exactly one username\n\n${USAGE}`);
  const [username] = positionals;
  if (!USERNAME.test(username)) throw new Error(`username must match ${USERNAME.source}`);
  const config = loadConfig();
  const store = await openStore(config, { warn: console.warn, error: console.error });
  try {
    const user = await store.getUser(username);
    if (!user) throw new Error(`no user ${username}`);
    if (user.removedAt) throw new Error(`${username} was removed; a removed user cannot be reset`);
    const { code, record } = await makeResetCode(store, username);
    console.log(`reset code for ${username}, valid once until ${record.expiresAt}:`);
    console.log(code);
  } finally {
    await store.close();
  }
}

main().catch((error) => {
  console.error(`user:reset: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
