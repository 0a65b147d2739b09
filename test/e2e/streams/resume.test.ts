import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { chatOf } from '../../support/chats.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, withServer } from '../../support/helper.js';

describe('a stream resumed with Last-Event-ID', () => {
  it('replay after Last-Event-ID re-checks membership', async () => {
    await withServer({}, async (server) => {
      const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      const chatId = await chatOf(alice, bob);
      await alice.send(chatId, 1, 'while bob was in', 'ed25519');
      await bob.api.call('leaveChat', { params: { chatId } });
      const replay = await bob.events('0');
      await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
      await replay.nextOf('presence', (d) => d.username === 'carol');
      expect(replay.events.filter((e) => e.event === 'message')).toEqual([]);
      expect(replay.events.some((e) => e.event === 'member.left' && e.json.username === 'bob')).toBe(true);
      replay.close();
    });
  });

  it('cuts a reader that does not keep up, without delaying the others; it resumes losing nothing', async () => {
    await withServer(
      { SECURECHAT_STREAM_BUFFER: '131072', SECURECHAT_POST_LIMIT: '100000' },
      async (server) => {
        const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
        const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
        const chatId = await chatOf(alice, bob);
        const marker = await alice.send(chatId, 1, 'before', 'ed25519');
        const fast = await bob.events();
        // bob's second stream: a raw socket that never reads
        const url = new URL(server.url);
        const slow = net.connect(Number(url.port), url.hostname);
        slow.on('error', () => {});
        slow.pause();
        slow.write(`GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bob.api.token}\r\n\r\n`);
        const hub = server.app.hub;
        // the server holds both of bob's streams once the raw one is open (a live event proves it)
        await alice.send(chatId, 1, 'sync', 'ed25519');
        while (hub.count('bob') < 2) await fast.next(() => true, 2000).catch(() => undefined);
        const text = 'x'.repeat(4_000);
        const seqs: number[] = [];
        for (let i = 0; i < 5000 && hub.count('bob') === 2; i++) {
          seqs.push((await alice.send(chatId, 1, text, 'ed25519')).res.body.seq);
        }
        // cut: the slow stream is gone, the fast one is still there
        expect(hub.count('bob')).toBe(1);
        slow.destroy();
        // the fast reader got every message
        for (const seq of seqs) await fast.nextOf('message', (d) => d.seq === seq);
        fast.close();
        // resuming from before the burst replays all of it
        const firstEvent = fast.events.find((e) => e.event === 'message' && e.json.seq === seqs[0]);
        const resumed = await bob.events(String(Number(firstEvent?.id) - 1));
        for (const seq of seqs) await resumed.nextOf('message', (d) => d.seq === seq);
        resumed.close();
        expect(marker.res.status).toBe(201);
      },
    );
  });
});
