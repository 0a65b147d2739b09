import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { backendEnv } from '../support/backend.js';
import { chatOf } from '../support/chats.js';
import { Api, Participant } from '../support/client.js';
import { PASSWORD, withServer } from '../support/helper.js';

describe('logs', () => {
  it('record security events and never carry tokens, passwords or keys', async () => {
    let text = '';
    const logStream = new Writable({
      write(chunk, _enc, done) {
        text += chunk;
        done();
      },
    });
    const { buildApp } = await import('../../src/app.js');
    const { loadConfig } = await import('../../src/config.js');
    const { readPublicKeys } = await import('../../src/crypto/keystore.js');
    await withServer({}, async (base) => {
      const config = loadConfig({
        SECURECHAT_DATA_DIR: path.join(base.dataDir, 'logged'),
        SECURECHAT_KEYS_DIR: base.keysDir,
        SECURECHAT_DEMO_USERS: 'false',
        BCRYPT_COST: '4',
        LOG_LEVEL: 'info',
        ...(await backendEnv(path.join(base.dataDir, 'logged'))),
      });
      const app = await buildApp(config, { keySizes: { rsaBits: 2048 }, logStream });
      try {
        for (const u of ['alice', 'bob']) {
          await app.accounts.register(u, PASSWORD, await readPublicKeys(path.join(base.keysDir, 'users', u)));
        }
        const url = await app.listen({ port: 0, host: '127.0.0.1' });
        await new Api(url).call('login', { body: { username: 'alice', password: 'wrong password' } });
        const alice = await Participant.login(url, base.keysDir, 'alice', PASSWORD);
        const bob = await Participant.login(url, base.keysDir, 'bob', PASSWORD);
        const chatId = await chatOf(alice, bob);
        await bob.api.call('leaveChat', { params: { chatId } });
        const events = text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
          .map((l) => l.event)
          .filter(Boolean);
        for (const e of [
          'login.failure',
          'login.success',
          'chat.created',
          'member.joined',
          'member.left',
          'key.rotated',
        ]) {
          expect(events, e).toContain(e);
        }
        expect(text).not.toContain(alice.api.token);
        expect(text).not.toContain(PASSWORD);
        expect(text).not.toContain('wrong password');
        expect(text).not.toContain('PRIVATE KEY');
      } finally {
        await app.close();
      }
    });
  });
});
