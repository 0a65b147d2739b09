import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { backendEnv } from '../support/backend.js';
import { chatOf } from '../support/chats.js';
import { Participant } from '../support/client.js';
import { PASSWORD, tempDir, withServer } from '../support/helper.js';

const run = promisify(execFile);

/** Debian's PostgreSQL tools (the newest installed, as scripts/with-backends.sh picks them). */
function pgTool(name: string): string {
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b));
  return path.join('/usr/lib/postgresql', versions.at(-1) ?? '', 'bin', name);
}

describe('pg_dump and pg_restore, as docs/operations.md says them', () => {
  it('a dump taken during a conversation, restored into a new database, serves every message answered before it', async () => {
    await withServer({}, async (server) => {
      const { DATABASE_URL: source } = await backendEnv(server.dataDir);
      const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      const chatId = await chatOf(alice, bob);
      const answered: string[] = [];
      let talking = true;
      const conversation = (async () => {
        for (let i = 0; talking; i++) {
          const { res, body } = await (i % 2 ? bob : alice).send(chatId, 1, `line ${i}`, 'ed25519');
          expect(res.status).toBe(201);
          answered.push(body.id);
        }
      })();
      while (answered.length < 5) await new Promise((resolve) => setImmediate(resolve));
      const before = [...answered];
      const file = path.join(await tempDir('securechat-pgdump-'), 'securechat.dump');
      await run(pgTool('pg_dump'), ['--format=custom', `--file=${file}`, source]);
      talking = false;
      await conversation;

      // a new, empty database (and Redis prefix) to restore into
      const target = await backendEnv(path.join(server.dataDir, 'restored'));
      await run(pgTool('pg_restore'), ['--no-owner', `--dbname=${target.DATABASE_URL}`, file]);
      // the same JWT secret (the data folder's file) and server key: the identity the database holds
      const app = await buildApp(
        loadConfig({
          SECURECHAT_DATA_DIR: server.dataDir,
          SECURECHAT_KEYS_DIR: server.keysDir,
          SECURECHAT_DEMO_USERS: 'false',
          BCRYPT_COST: '4',
          LOG_LEVEL: 'silent',
          ...target,
        }),
        { keySizes: { rsaBits: 2048 } },
      );
      try {
        const url = await app.listen({ port: 0, host: '127.0.0.1' });
        const bobAgain = new Participant(url, 'bob');
        bobAgain.api.token = bob.api.token;
        const history = await bobAgain.api.call('listMessages', {
          params: { chatId },
          query: { limit: 1000 },
        });
        expect(history.status).toBe(200);
        const ids = history.body.messages.map((m: { message: { id: string } }) => m.message.id);
        for (const id of before) expect(ids).toContain(id);
        expect(ids).toEqual(answered.slice(0, ids.length));
        // and it goes on: a new message is accepted after the restored ones
        const alice2 = await Participant.login(url, server.keysDir, 'alice', PASSWORD);
        for (const [key, value] of alice.chatKeys) alice2.chatKeys.set(key, value);
        const next = await alice2.send(chatId, 1, 'after the restore', 'ed25519');
        expect(next.res.status).toBe(201);
        expect(next.res.body.seq).toBe(ids.length + 1);
      } finally {
        await app.close();
      }
    });
  }, 120_000);
});
