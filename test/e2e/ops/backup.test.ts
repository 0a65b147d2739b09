import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { BACKEND } from '../../support/backend.js';
import { chatOf } from '../../support/chats.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, tempDir, withServer } from '../../support/helper.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** `npm run <script> -- <args>` with the data folder given, to its exit. */
function npmRun(script: string, args: string[], dataDir: string) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn('npm', ['run', '--silent', script, '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, SECURECHAT_DATA_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    child.on('close', (code) => resolve({ code, out }));
  });
}

// SQLite's data folder; PostgreSQL's pg_dump and pg_restore are tested in test/postgres/backup.test.ts
describe.skipIf(BACKEND !== 'sqlite')('npm run backup and npm run restore (SQLite)', () => {
  it('back up a data folder during a conversation; a server on the restored folder has every message answered before', async () => {
    await withServer({}, async (server) => {
      const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      const chatId = await chatOf(alice, bob);
      const answered: string[] = [];
      let talking = true;
      // alice and bob take turns while the backup runs
      const conversation = (async () => {
        for (let i = 0; talking; i++) {
          const { res, body } = await (i % 2 ? bob : alice).send(chatId, 1, `line ${i}`, 'ed25519');
          expect(res.status).toBe(201);
          answered.push(body.id);
        }
      })();
      while (answered.length < 5) await new Promise((resolve) => setImmediate(resolve));
      const before = [...answered];
      const folder = await tempDir('securechat-backup-');
      const file = path.join(folder, 'chat.backup');
      const made = await npmRun('backup', [file], server.dataDir);
      const after = answered.length;
      talking = false;
      await conversation;
      expect(made.code, made.out).toBe(0);
      expect(made.out).toMatch(/backed up .* \(\d+ bytes, schema v\d+, with jwt\.secret\)/);
      // the conversation went on while it ran
      expect(after).toBeGreaterThan(before.length);

      const restored = path.join(folder, 'restored');
      const put = await npmRun('restore', [file], restored);
      expect(put.code, put.out).toBe(0);
      expect((await readdir(restored)).sort()).toEqual(['jwt.secret', 'securechat.db']);
      // a folder that holds anything is refused without --force, and left as it is
      await writeFile(path.join(restored, 'note'), 'mine');
      const again = await npmRun('restore', [file], restored);
      expect(again.code).toBe(1);
      expect(again.out).toContain('is not empty (3 entries): add --force to overwrite it');
      const forced = await npmRun('restore', [file, '--force'], restored);
      expect(forced.code, forced.out).toBe(0);
      // not a backup: refused, and nothing is written
      const empty = path.join(folder, 'empty');
      await mkdir(empty);
      const wrong = await npmRun('restore', [path.join(restored, 'note')], empty);
      expect(wrong.code).toBe(1);
      expect(wrong.out).toContain('is not a Secure Chat backup');
      expect(await readdir(empty)).toEqual([]);

      const app = await buildApp(
        loadConfig({
          SECURECHAT_DATA_DIR: restored,
          SECURECHAT_KEYS_DIR: server.keysDir,
          SECURECHAT_DEMO_USERS: 'false',
          BCRYPT_COST: '4',
          LOG_LEVEL: 'silent',
        }),
        { keySizes: { rsaBits: 2048 } },
      );
      try {
        const url = await app.listen({ port: 0, host: '127.0.0.1' });
        // the JWT secret came back too: bob's token from before still works
        const bobAgain = new Participant(url, 'bob');
        bobAgain.api.token = bob.api.token;
        const history = await bobAgain.api.call('listMessages', {
          params: { chatId },
          query: { limit: 1000 },
        });
        expect(history.status).toBe(200);
        const ids = history.body.messages.map((m: { message: { id: string } }) => m.message.id);
        for (const id of before) expect(ids).toContain(id);
        // and what it has is what was answered, in the order it was answered
        expect(ids).toEqual(answered.slice(0, ids.length));
      } finally {
        await app.close();
      }
    });
    // five npm runs, each a process of its own, on a shared machine
  }, 180_000);
});
