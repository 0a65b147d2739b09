import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';

/** The database in the data folder (src/store/sqlite/open.ts), with its WAL and shared-memory files. */
const DB = 'securechat.db';
const DB_FILES = [DB, `${DB}-wal`, `${DB}-shm`];
/** The other files of the data folder (jwt.secret, a self-signed certificate) go into this table of the copy. */
const FILES_TABLE = 'securechat_backup_files';
/** Larger files are not the server's own (it keeps nothing big beside its database): left out. */
const MAX_FILE_BYTES = 1 << 20;

export class BackupError extends Error {}

/**
 * Copies the SQLite data folder into one file, while the server runs: the database through
 * SQLite's online backup (better-sqlite3's `backup`: a consistent snapshot, page by page, that
 * writers do not wait for), then the folder's other small files (the JWT secret, a self-signed
 * certificate) into a table of that copy. The file is written beside `file` and renamed into
 * place, mode 0600: it holds the JWT secret.
 */
export async function backupSqlite(dataDir: string, file: string) {
  const source = path.join(dataDir, DB);
  if (!(await stat(source).catch(() => undefined))?.isFile())
    throw new BackupError(`no database at ${source}: is SECURECHAT_DATA_DIR the server's data folder?`);
  const temp = `${file}.${process.pid}.tmp`;
  const db = new Database(source, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    await db.backup(temp);
  } finally {
    db.close();
  }
  const copy = new Database(temp);
  try {
    // one file, not a WAL beside it
    copy.pragma('journal_mode = DELETE');
    copy.exec(`CREATE TABLE ${FILES_TABLE} (name TEXT PRIMARY KEY, content BLOB NOT NULL)`);
    const insert = copy.prepare(`INSERT INTO ${FILES_TABLE} (name, content) VALUES (?, ?)`);
    for (const entry of await readdir(dataDir, { withFileTypes: true })) {
      if (!entry.isFile() || DB_FILES.includes(entry.name) || entry.name.endsWith('.tmp')) continue;
      const full = path.join(dataDir, entry.name);
      if ((await stat(full)).size <= MAX_FILE_BYTES) insert.run(entry.name, await readFile(full));
    }
    const version = copy.pragma('user_version', { simple: true }) as number;
    const files = (
      copy.prepare(`SELECT name FROM ${FILES_TABLE} ORDER BY name`).all() as { name: string }[]
    ).map((r) => r.name);
    copy.close();
    await chmod(temp, 0o600);
    await rename(temp, file);
    return { schemaVersion: version, files, bytes: (await stat(file)).size };
  } catch (error) {
    if (copy.open) copy.close();
    await rm(temp, { force: true });
    throw error;
  }
}

/**
 * Puts a backup back into a data folder: refused when the folder holds anything unless `force`
 * (then its database and the backup's files are replaced; nothing else is touched). The server
 * must not be running on that folder.
 */
export async function restoreSqlite(file: string, dataDir: string, force: boolean) {
  let files: { name: string; content: Buffer }[];
  try {
    const backup = new Database(file, { readonly: true, fileMustExist: true });
    try {
      files = backup.prepare(`SELECT name, content FROM ${FILES_TABLE}`).all() as typeof files;
    } finally {
      backup.close();
    }
  } catch {
    throw new BackupError(`${file} is not a Secure Chat backup (made by npm run backup)`);
  }
  const present = await readdir(dataDir).catch(() => [] as string[]);
  if (present.length > 0 && !force)
    throw new BackupError(`${dataDir} is not empty (${present.length} entries): add --force to overwrite it`);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  const temp = path.join(dataDir, `${DB}.${process.pid}.tmp`);
  await writeFile(temp, await readFile(file), { mode: 0o600 });
  const db = new Database(temp);
  try {
    db.exec(`DROP TABLE ${FILES_TABLE}`);
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
  for (const name of DB_FILES) await rm(path.join(dataDir, name), { force: true });
  await rename(temp, path.join(dataDir, DB));
  for (const { name, content } of files) {
    if (path.basename(name) !== name) continue; // only files of the folder itself
    await writeFile(path.join(dataDir, name), content, { mode: 0o600 });
    await chmod(path.join(dataDir, name), 0o600);
  }
  return { files: files.map((f) => f.name) };
}
