import { describe, expect, it } from 'vitest';
import { BACKEND } from '../../support/backend.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer } from '../../support/helper.js';

const CHATS = 8;
const POSTS = 800;
const IN_FLIGHT = 32;

// Every store and bus the configuration accepts: on PostgreSQL, with the in-process bus too.
const buses = BACKEND === 'postgres' ? ['memory', 'redis'] : ['memory'];

describe.each(buses)('live events on %s bus', (bus) => {
  it('reach a listener each once, in id order, under concurrent posts to several chats', {
    timeout: 120_000,
  }, async () => {
    const server = await startServer({ SECURECHAT_BUS: bus, SECURECHAT_POST_LIMIT: '100000' });
    try {
      const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      const chats: string[] = [];
      for (let i = 0; i < CHATS; i++) {
        const res = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
        await alice.acceptEnvelope(res.body.keyEnvelope);
        chats.push(res.body.chat.id);
      }
      const stream = await bob.events();
      const before = (await server.app.store.eventBounds()).latest;

      let started = 0;
      const worker = async () => {
        for (let n = started++; n < POSTS; n = started++) {
          const res = (await alice.send(chats[n % CHATS], 1, `m${n}`, 'ed25519')).res;
          expect(res.status).toBe(201);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));

      // the highest id comes last; a lower one dropped on the way never comes at all
      const latest = (await server.app.store.eventBounds()).latest;
      expect(latest - before).toBe(POSTS);
      await stream.next((e) => e.id !== undefined && Number(e.id) >= latest, 60_000);
      // (an event from before the posts, e.g. the last chat's, may still arrive live after the open)
      const ids = stream.events.map((e) => Number(e.id)).filter((id) => id > before);
      expect(ids).toEqual(Array.from({ length: POSTS }, (_, i) => before + 1 + i));
      stream.close();
    } finally {
      await server.close();
    }
  });
});
