import { parseArgs } from 'node:util';
import { openStore } from '../bootstrap/backends.js';
import { loadConfig } from '../config.js';
import { timestamp } from '../crypto/time.js';
import { USERNAME } from '../services/accounts.js';

const USAGE = `Usage: npm run user:remove -- <username>

Removes <username> for good: their logins are refused from now on, and the server (every
instance that runs) ends each of their sessions and takes them out of every chat within a
second or so, each chat getting a new epoch as a leave makes. Their messages and public keys
stay, so history still verifies (GET /users/<username>/keys says removed: true). The name is
never registered again (user:add, user:invite and POST /users refuse it). There is no undo.

Uses SECURECHAT_DATA_DIR (or SECURECHAT_DATABASE_URL) like the server; the server may be running
(if it is not, it completes the removal when it starts).`;

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
    if (!(await store.markRemoved(username, timestamp()))) throw new Error(`${username} was already removed`);
    console.log(`removed ${username}: logins are refused; the server ends their sessions and chats`);
  } finally {
    await store.close();
  }
}

main().catch((error) => {
  console.error(`user:remove: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
