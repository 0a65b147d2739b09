import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.js';
import { loadConfig } from '../../../src/config.js';
import { BACKEND, backendEnv } from '../../support/backend.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// protocol.md, Events: `chat.created` {chat, keyEnvelope} goes to every session of the creator,
// so their other devices and tabs list the new chat.

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '60000' });
});
afterAll(() => server?.close());

const login = (username: string, url = server.url) =>
  Participant.login(url, server.keysDir, username, PASSWORD);

describe('chat.created', () => {
  it('reaches every session of the creator with the chat and their envelope, and no one else', async () => {
    const [phone, laptop, bob] = [await login('alice'), await login('alice'), await login('bob')];
    const [phoneEvents, laptopEvents, bobEvents] = await Promise.all([
      phone.events(),
      laptop.events(),
      bob.events(),
    ]);
    try {
      const res = await phone.api.call('createChat', { body: { invitees: ['bob'] } });
      expect(res.status).toBe(201);
      const chatId = res.body.chat.id;
      const keys = [];
      for (const [who, stream] of [
        [phone, phoneEvents],
        [laptop, laptopEvents],
      ] as const) {
        const created = await stream.nextOf('chat.created', (d) => d.chat.id === chatId);
        expect(created.id).toMatch(/^\d+$/); // stored: replayed to a stream that resumes
        expect(created.json.chat).toEqual(res.body.chat);
        expect(created.json.keyEnvelope).toEqual(res.body.keyEnvelope);
        // each device takes the key from it, verified as any envelope
        keys.push(await who.acceptEnvelope(created.json.keyEnvelope));
      }
      expect(keys[0]).toEqual(keys[1]);
      await bobEvents.nextOf('chat.invited', (d) => d.chat.id === chatId);
      expect(bobEvents.events.some((e) => e.event === 'chat.created')).toBe(false);
    } finally {
      for (const s of [phoneEvents, laptopEvents, bobEvents]) s.close();
    }
  });

  it('in members mode carries no key (the creator’s client makes it)', async () => {
    const [phone, laptop] = [await login('carol'), await login('carol')];
    const laptopEvents = await laptop.events();
    try {
      const res = await phone.api.call('createChat', { body: { invitees: ['bob'], keyMode: 'members' } });
      expect(res.status).toBe(201);
      const created = await laptopEvents.nextOf('chat.created', (d) => d.chat.id === res.body.chat.id);
      expect(created.json.keyEnvelope).toBeNull();
      expect(created.json.chat.keyMode).toBe('members');
      expect(created.json.chat.pending.epoch).toBe(1);
    } finally {
      laptopEvents.close();
    }
  });
});

describe.skipIf(BACKEND !== 'postgres')('chat.created across instances', () => {
  it('reaches the creator’s stream on another instance (through the bus)', async () => {
    const second = await buildApp(
      loadConfig({
        SECURECHAT_DATA_DIR: server.dataDir,
        SECURECHAT_KEYS_DIR: server.keysDir,
        SECURECHAT_DEMO_USERS: 'false',
        BCRYPT_COST: '4',
        LOG_LEVEL: 'silent',
        ...(await backendEnv(server.dataDir)),
        ...server.env,
      }),
      { keySizes: { rsaBits: 2048 } },
    );
    try {
      const url = await second.listen({ port: 0, host: '127.0.0.1' });
      const here = await login('dave');
      const there = await login('dave', url);
      const thereEvents = await there.events();
      try {
        const res = await here.api.call('createChat', { body: { invitees: ['erin'] } });
        const created = await thereEvents.nextOf('chat.created', (d) => d.chat.id === res.body.chat.id);
        expect(created.json.keyEnvelope).toEqual(res.body.keyEnvelope);
      } finally {
        thereEvents.close();
      }
    } finally {
      await second.close();
    }
  });
});
