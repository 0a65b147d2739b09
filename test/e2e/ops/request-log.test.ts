import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { readPublicKeys } from '../../../src/crypto/keystore.js';
import { backendEnv } from '../../support/backend.js';
import { chatOf } from '../../support/chats.js';
import { Api, Participant } from '../../support/client.js';
import { PASSWORD, withServer } from '../../support/helper.js';

type Line = Record<string, unknown>;

/** A server of its own at `info` whose log is kept, on the folders (and keys) of `base`. */
async function loggedServer(dataDir: string, keysDir: string) {
  const lines: Line[] = [];
  let rest = '';
  const logStream = new Writable({
    write(chunk, _enc, done) {
      rest += chunk;
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) lines.push(JSON.parse(part));
      done();
    },
  });
  const config = loadConfig({
    SECURECHAT_DATA_DIR: dataDir,
    SECURECHAT_KEYS_DIR: keysDir,
    SECURECHAT_DEMO_USERS: 'false',
    BCRYPT_COST: '4',
    LOG_LEVEL: 'info',
    ...(await backendEnv(dataDir)),
  });
  const app = await buildApp(config, { keySizes: { rsaBits: 2048 }, logStream });
  for (const u of ['alice', 'bob']) {
    await app.accounts.register(u, PASSWORD, await readPublicKeys(path.join(keysDir, 'users', u)));
  }
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url, lines };
}

describe('the request log', () => {
  it('says each request in one line at info: method, route template, status, milliseconds, request id', async () => {
    await withServer({}, async (base) => {
      const { app, url, lines } = await loggedServer(path.join(base.dataDir, 'logged'), base.keysDir);
      try {
        await new Api(url).call('login', { body: { username: 'alice', password: 'wrong password' } });
        const alice = await Participant.login(url, base.keysDir, 'alice', PASSWORD);
        const bob = await Participant.login(url, base.keysDir, 'bob', PASSWORD);
        const chatId = await chatOf(alice, bob);
        await alice.api.call('listMessages', { params: { chatId }, query: { limit: 10 } });
        const unknown = await fetch(`${url}/no/such/path/${chatId}`);
        expect(unknown.status).toBe(404);
        await unknown.arrayBuffer();
        // the last request's line is written once its answer is sent: wait for it
        await expect.poll(() => lines.filter((l) => l.msg === 'request').length).toBe(9);
        const requests = lines.filter((l) => l.msg === 'request');
        // Fastify's own two lines per request (with its req and res, the raw URL) are gone
        const fastifys = (l: Line) =>
          l.msg === 'incoming request' || l.msg === 'request completed' || 'req' in l || 'res' in l;
        expect(lines.filter(fastifys)).toEqual([]);
        for (const line of requests) {
          expect(line.level).toBe(30);
          expect(Object.keys(line).sort()).toEqual(
            ['hostname', 'level', 'method', 'ms', 'msg', 'pid', 'reqId', 'route', 'status', 'time'].sort(),
          );
          expect(typeof line.ms).toBe('number');
        }
        // one line per request: the request ids are all different
        expect(new Set(requests.map((l) => l.reqId)).size).toBe(requests.length);
        const said = requests.map((l) => `${l.method} ${l.route} ${l.status}`);
        expect(said).toContain('POST /auth/login 401');
        expect(said).toContain('POST /auth/login 200');
        expect(said).toContain('POST /chats 201');
        expect(said).toContain('POST /chats/:chatId/join 200');
        expect(said).toContain('GET /chats/:chatId/messages 200');
        expect(said).toContain('GET (unknown) 404');
        // the route's template, never its raw path: no chat id in any request line
        expect(JSON.stringify(requests)).not.toContain(chatId);
        // security events stay as they were, with the request id of their request
        const failure = lines.find((l) => l.event === 'login.failure');
        expect(failure).toMatchObject({ msg: 'security event', username: 'alice', level: 40 });
        expect(requests.some((l) => l.reqId === failure?.reqId && l.status === 401)).toBe(true);
      } finally {
        await app.close();
      }
    });
  });
});
