import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { restoreSqlite } from './sqlite-backup.js';

const USAGE = `Usage: npm run restore -- FILE [--force]

Puts a backup made by npm run backup into the SQLite data folder (SECURECHAT_DATA_DIR, default
./data). Stop the server first. A folder that holds anything is refused unless --force (which
replaces its database and the backup's files). The keys folder (SECURECHAT_KEYS_DIR, the server's
private key) is not in the backup: restore it from where you keep it.`;

let file: string;
let force: boolean;
try {
  const { positionals, values } = parseArgs({
    options: { force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (positionals.length !== 1) throw new Error('one FILE');
  file = path.resolve(positionals[0]);
  force = values.force ?? false;
} catch {
  console.error(USAGE);
  process.exit(2);
}
try {
  const config = loadConfig();
  if (config.store.kind !== 'sqlite')
    throw new Error('SECURECHAT_STORE is postgres: restore it with pg_restore');
  const { files } = await restoreSqlite(file, config.dataDir, force);
  console.log(`restored ${file} into ${config.dataDir} (with ${files.join(', ') || 'no other files'})`);
} catch (error) {
  console.error(`securechat: restore failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
