import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { chatOf } from '../../support/chats.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, type TestServer, withServer } from '../../support/helper.js';
import { loopbackSocket, nextStreamEnd, StalledReader } from '../../support/streams.js';

const HEARTBEAT_MS = 500;
const TEXT = 'x'.repeat(60_000);
const env = {
  SECURECHAT_STREAM_BUFFER: '131072',
  SECURECHAT_HEARTBEAT_MS: String(HEARTBEAT_MS),
  SECURECHAT_POST_LIMIT: '100000',
};

/**
 * dave opens a stream (after `backlog` messages, from `lastEventId`, or from now) and reads
 * nothing while alice, bob and carol flood the chat until the server cuts him; then he reads. His
 * socket must close at once (a reset, not an end queued behind what he did not read), and
 * resuming from the last event he got must bring every message exactly once.
 */
async function stalledThenRead(server: TestServer, backlog: number, lastEventId?: string) {
  const members: Participant[] = [];
  for (const name of ['alice', 'bob', 'carol', 'dave'])
    members.push(await Participant.login(server.url, server.keysDir, name, PASSWORD));
  const [alice, bob, carol, dave] = members;
  const chatId = await chatOf(alice, bob, carol, dave);
  const seqs: number[] = [];
  const post = async (p: Participant) => seqs.push((await p.send(chatId, 1, TEXT, 'ed25519')).res.body.seq);
  for (let i = 0; i < backlog; i++) await post(alice);

  const from = lastEventId ?? String((await server.app.store.eventBounds()).latest);
  const ended = nextStreamEnd(server.app);
  let cut = false;
  void ended.then(() => (cut = true));
  const reader = new StalledReader(server.url, String(dave.api.token), from);
  await Promise.all(
    [alice, bob, carol].map(async (p) => {
      for (let i = 0; i < 200 && !cut; i++) await post(p);
    }),
  );
  expect(cut).toBe(true);
  await ended;
  // The server kept nothing for him: no socket ending behind the megabytes he has not read
  // (a FIN queued behind them reaches him only if and when the kernel gets them through).
  const left = await loopbackSocket(Number(new URL(server.url).port), reader.socket.localPort ?? 0);
  if (left !== null) expect(left).toBeUndefined();

  reader.resume();
  // what his own kernel held for him, then the close: never a silence past the heartbeat interval
  const outcome = await reader.closedOrSilent(HEARTBEAT_MS * 4, 30_000);
  expect(outcome).toMatchObject({ closed: true });

  const blocks = reader.blocks();
  const got = blocks.filter((b) => b.event === 'message').map((b) => JSON.parse(b.data ?? '{}').seq);
  const lastId = blocks.filter((b) => b.id !== undefined).at(-1)?.id ?? from;
  const resumed = await dave.events(lastId);
  for (const seq of seqs)
    if (!got.includes(seq)) await resumed.nextOf('message', (d) => d.chatId === chatId && d.seq === seq);
  resumed.close();
  const again = resumed.events.filter((e) => e.event === 'message').map((e) => e.json.seq);
  expect([...got, ...again].sort((a, b) => a - b)).toEqual([...seqs].sort((a, b) => a - b));
  return { got: got.length, bytes: reader.bytes };
}

describe('a stream whose reader stalls while its chat floods (security round 2, #7)', () => {
  it('in its replay is cut with a reset: reading yields the close at once, and resuming loses nothing', async () => {
    await withServer(env, async (server) => {
      await stalledThenRead(server, 10, '0');
    });
  });

  it('while live is cut with a reset: reading yields the close at once, and resuming loses nothing', async () => {
    await withServer(env, async (server) => {
      await stalledThenRead(server, 0);
    });
  });

  it('over TLS is cut with a reset too', async () => {
    await withServer({ ...env, SECURECHAT_TLS: 'self-signed' }, async (server) => {
      const ca = await readFile(path.join(server.keysDir, 'server', 'tls.cert.pem'), 'utf8');
      const before = getGlobalDispatcher();
      const trusted = new Agent({ connect: { ca } });
      setGlobalDispatcher(trusted);
      try {
        await stalledThenRead(server, 0);
      } finally {
        setGlobalDispatcher(before);
        await trusted.close();
      }
    });
  });
});
