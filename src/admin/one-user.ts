import { parseArgs } from 'node:util';
import { openStore } from '../bootstrap/backends.js';
import { loadConfig } from '../config.js';
import { USERNAME } from '../services/accounts.js';
import type { Store } from '../store/types.js';
import type { UserRecord } from '../store/user-types.js';

/**
 * An administrator's command on one registered user (`npm run user:<command> -- <username>`):
 * its usage on -h, the name checked, the store the server uses opened and closed around `act`,
 * and any failure said on stderr as `user:<command>: …` with exit code 1.
 */
export function runOnOneUser(
  command: string,
  usage: string,
  act: (store: Store, user: UserRecord) => Promise<void>,
): void {
  main(usage, act).catch((error) => {
    console.error(`user:${command}: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}

async function main(usage: string, act: (store: Store, user: UserRecord) => Promise<void>): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  if (positionals.length !== 1) throw new Error(`give exactly one username\n\n${usage}`);
  const [username] = positionals;
  if (!USERNAME.test(username)) throw new Error(`username must match ${USERNAME.source}`);
  const store = await openStore(loadConfig(), { warn: console.warn, error: console.error });
  try {
    const user = await store.getUser(username);
    if (!user) throw new Error(`no user ${username}`);
    await act(store, user);
  } finally {
    await store.close();
  }
}
