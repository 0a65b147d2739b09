/**
 * SQLite commit cost with `synchronous = NORMAL` and `FULL` (WAL mode): message-sized rows, one
 * transaction each, as posting commits them. Prints commits per second and the median commit.
 *   node --import tsx bench/sqlite-sync.ts [commits] [folder]
 * The folder should be on the disk the data folder lives on (default: the system temp folder).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

const commits = Number(process.argv[2] ?? 2000);
const root = mkdtempSync(path.join(process.argv[3] ?? tmpdir(), 'securechat-sync-'));
const payload = randomBytes(1024).toString('base64');
try {
  for (const mode of ['NORMAL', 'FULL']) {
    const db = new Database(path.join(root, `${mode}.db`));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${mode}`);
    db.exec('CREATE TABLE m (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO m (body) VALUES (?)');
    const post = db.transaction(() => insert.run(payload));
    const times: number[] = [];
    const start = performance.now();
    for (let i = 0; i < commits; i++) {
      const t = performance.now();
      post();
      times.push(performance.now() - t);
    }
    const seconds = (performance.now() - start) / 1000;
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    const p99 = times[Math.floor(times.length * 0.99)];
    console.log(
      `synchronous=${mode}: ${Math.round(commits / seconds)} commits/s, median ${median.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`,
    );
    db.close();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
