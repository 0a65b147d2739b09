import path from 'node:path';
import { loadConfig } from '../config.js';
import { BackupError, backupSqlite } from './sqlite-backup.js';

const USAGE = `Usage: npm run backup -- FILE

Copies the SQLite data folder (SECURECHAT_DATA_DIR, default ./data) into FILE, while the server
runs: a consistent snapshot of the database (SQLite's online backup), with the folder's other
files (the JWT secret) inside it. FILE is written mode 0600: keep it as secret as the folder.
Put it back with: npm run restore -- FILE. With SECURECHAT_STORE=postgres, use pg_dump instead
(docs/operations.md, "Backups and restores").`;

const args = process.argv.slice(2);
if (args.length !== 1 || args[0].startsWith('-')) {
  console.error(USAGE);
  process.exit(args.includes('--help') || args.includes('-h') ? 0 : 2);
}
try {
  const config = loadConfig();
  if (config.store.kind !== 'sqlite')
    throw new BackupError('SECURECHAT_STORE is postgres: back it up with pg_dump (docs/operations.md)');
  const file = path.resolve(args[0]);
  const made = await backupSqlite(config.dataDir, file);
  console.log(
    `backed up ${config.dataDir} to ${file} (${made.bytes} bytes, schema v${made.schemaVersion}, with ${made.files.join(', ') || 'no other files'})`,
  );
} catch (error) {
  console.error(`securechat: backup failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
