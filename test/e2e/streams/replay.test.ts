import { describe, expect, it } from 'vitest';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';
import { nextStreamEnd, unreadStream } from '../../support/streams.js';

const BUFFER = 131_072;
const TEXT = 'x'.repeat(60_000);

/** Alice alone in a chat with more large messages than the kernel's socket buffers take. */
async function aliceWithBacklog(server: TestServer) {
  const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
  // nobody is no user: alice is alone in the chat (an offline bob would be invited)
  const created = await alice.api.call('createChat', { body: { invitees: ['nobody'] } });
  const chatId = created.body.chat.id as string;
  await alice.acceptEnvelope(created.body.keyEnvelope);
  const seqs: number[] = [];
  const post = async () => seqs.push((await alice.send(chatId, 1, TEXT, 'ed25519')).res.body.seq);
  for (let i = 0; i < 200; i++) await post();
  return { alice, chatId, seqs, post };
}

describe('a replay nobody reads', () => {
  it('is cut once what waits behind it passes the stream buffer; every message is still there', async () => {
    const server = await startServer({
      SECURECHAT_STREAM_BUFFER: String(BUFFER),
      SECURECHAT_STREAM_DRAIN_MS: '600000',
      SECURECHAT_POST_LIMIT: '100000',
    });
    try {
      const { alice, chatId, seqs, post } = await aliceWithBacklog(server);

      const hub = server.app.hub;
      const ended = nextStreamEnd(server.app);
      let cut = false;
      void ended.then(() => (cut = true));
      const socket = unreadStream(server.url, String(alice.api.token), '0');
      let most = 0;
      // alice keeps posting while her replay waits: what queues for it stays within the buffer
      for (let i = 0; i < 400 && !cut; i++) {
        await post();
        most = Math.max(most, hub.queuedBytes('alice'));
      }
      expect(cut).toBe(true);
      expect(most).toBeLessThanOrEqual(BUFFER);
      await ended;
      expect(hub.count('alice')).toBe(0);
      socket.destroy();

      // nothing was lost: every message is still fetchable
      const got: number[] = [];
      let after = 0;
      for (;;) {
        const page = await alice.api.call('listMessages', {
          params: { chatId },
          query: { after, limit: 100 },
        });
        expect(page.status).toBe(200);
        const messages = page.body.messages as { seq: number }[];
        if (messages.length === 0) break;
        got.push(...messages.map((m) => m.seq));
        after = messages[messages.length - 1].seq;
      }
      expect(got).toEqual(seqs);
    } finally {
      await server.close();
    }
  });

  it('is cut when the reader makes no room within SECURECHAT_STREAM_DRAIN_MS', async () => {
    const server = await startServer({ SECURECHAT_STREAM_DRAIN_MS: '300', SECURECHAT_POST_LIMIT: '100000' });
    try {
      const { alice } = await aliceWithBacklog(server);
      const ended = nextStreamEnd(server.app);
      const socket = unreadStream(server.url, String(alice.api.token), '0');
      await ended;
      expect(socket.destroyed).toBe(false); // the server gave up on the reader, not the other way round
      expect(server.app.hub.count('alice')).toBe(0);
      socket.destroy();
    } finally {
      await server.close();
    }
  });
});
