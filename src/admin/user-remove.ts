import { timestamp } from '../crypto/time.js';
import { runOnOneUser } from './one-user.js';

const USAGE = `Usage: npm run user:remove -- <username>

Removes <username> for good: their logins are refused from now on, and the server (every
instance that runs) ends each of their sessions and takes them out of every chat within a
second or so, each chat getting a new epoch as a leave makes. Their messages and public keys
stay, so history still verifies (GET /users/<username>/keys says removed: true). The name is
never registered again (user:add, user:invite and POST /users refuse it). There is no undo.

Uses SECURECHAT_DATA_DIR (or SECURECHAT_DATABASE_URL) like the server; the server may be running
(if it is not, it completes the removal when it starts).`;

runOnOneUser('remove', USAGE, async (store, { username }) => {
  if (!(await store.markRemoved(username, timestamp()))) throw new Error(`${username} was already removed`);
  console.log(`removed ${username}: logins are refused; the server ends their sessions and chats`);
});
