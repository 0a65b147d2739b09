import { makeResetCode } from '../services/account-changes.js';
import { runOnOneUser } from './one-user.js';

const USAGE = `Usage: npm run user:reset -- <username>

Makes a one-time reset code for <username> and prints it once, alone on the last line. For a
user who lost every device with their key store (or forgot their password): give it to them
over a channel you trust; their client makes new keys on their device and registers them with
it (securechat register --reset), with a new password if they want. The code is valid once,
for 24 hours; only its SHA-256 is stored; making another replaces it. When it is used, every
session of the user ends, and the people they chat with are told that the administrator reset
their keys (they should compare fingerprints before trusting them).

Uses SECURECHAT_DATA_DIR (or SECURECHAT_DATABASE_URL) like the server; the server may be running.`;

runOnOneUser('reset', USAGE, async (store, user) => {
  const { username } = user;
  if (user.removedAt) throw new Error(`${username} was removed; a removed user cannot be reset`);
  const { code, record } = await makeResetCode(store, username);
  console.log(`reset code for ${username}, valid once until ${record.expiresAt}:`);
  console.log(code);
});
