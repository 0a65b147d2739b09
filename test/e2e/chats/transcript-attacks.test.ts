import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Client, MemoryTranscriptStore, type MessageData } from '../../../src/client/index.js';
import { onDatabase } from '../../support/chats.js';
import { type LyingProxy, startProxy } from '../../support/cli-proxy.js';
import { startServer, type TestServer } from '../../support/helper.js';
import { catchUp, editHistory, libraryClient, storeButRefuse, texts } from '../../support/transcript.js';

// protocol.md "Transcript integrity": each attack made as a compromised server would make it (a
// change to its database between two reads, or a lying proxy in front of it), and the warning the
// client library gives for it.

let server: TestServer;
let proxy: LyingProxy;
let alice: Client;
let bob: Client;
/** carol talks to the server through the proxy. */
let carol: Client;

beforeAll(async () => {
  server = await startServer({ SECURECHAT_HISTORY_LIMIT: '100000' });
  proxy = await startProxy(server.url);
  alice = (await libraryClient(server.url, 'alice')).client;
  bob = (await libraryClient(server.url, 'bob')).client;
  carol = (await libraryClient(proxy.url, 'carol')).client;
});

afterAll(async () => {
  for (const c of [alice, bob, carol]) await c?.close();
  await proxy?.close();
  await server?.close();
});

/** A chat of the three, everyone joined. */
async function chat(): Promise<string> {
  const { chat } = await alice.createChat(['bob', 'carol']);
  await bob.join(chat.id);
  await carol.join(chat.id);
  return chat.id;
}

const upstream = () => server.url;

describe('a compromised server is caught by the transcript checks', () => {
  it('a message dropped for every member: "1 message from alice is missing" (and #n withheld)', async () => {
    const chatId = await chat();
    await alice.send(chatId, 'one', 'ed25519');
    expect(await catchUp(bob, chatId)).toEqual([]);
    const { seq } = await alice.send(chatId, 'two', 'ed25519');
    await onDatabase(server, 'DELETE FROM events WHERE chat_id = ? AND seq = ?', [chatId, seq]);
    await onDatabase(server, 'DELETE FROM messages WHERE chat_id = ? AND seq = ?', [chatId, seq]);
    await alice.send(chatId, 'three', 'ed25519');
    expect(texts(await catchUp(bob, chatId))).toEqual([
      `open: message #${seq} was withheld from you`,
      'open: 1 message from alice is missing',
    ]);
    // kept: asked again, the warnings are still there
    expect(
      bob.transcript
        .warnings(chatId)
        .map((w) => w.kind)
        .sort(),
    ).toEqual(['missing', 'withheld']);
  });

  it('a message withheld from one member only: "message #n was withheld from you" once a later one comes', async () => {
    const chatId = await chat();
    await alice.send(chatId, 'one', 'ed25519');
    const { seq } = await bob.send(chatId, 'for everyone but carol', 'rsa-pss-sha256');
    await proxy.with([editHistory(upstream(), (ms) => ms.filter((m) => m.seq !== seq))], async () => {
      expect(await catchUp(carol, chatId)).toEqual([]); // the newest can be withheld unseen
      await alice.send(chatId, 'later', 'ed25519');
      expect(texts(await catchUp(carol, chatId))).toEqual([`open: message #${seq} was withheld from you`]);
    });
    expect(await catchUp(bob, chatId)).toEqual([]);
    // it arrives after all: resolved
    const page = await carol.api.listMessages(chatId, { after: seq - 1, limit: 1 });
    const r = await carol.transcript.receive(page.messages[0] as MessageData, true);
    expect(texts(r.changes)).toEqual([`resolved: message #${seq} was withheld from you`]);
  });

  it('a fork: two members shown different messages at one seq → "bob saw a different message #n"', async () => {
    const chatId = await chat();
    const x = await alice.send(chatId, 'x', 'ed25519');
    const y = await alice.send(chatId, 'y', 'ed25519');
    expect(await catchUp(bob, chatId)).toEqual([]);
    // carol is shown x and y the other way round
    const swap = (ms: MessageData[]) =>
      ms
        .map((m) => (m.seq === x.seq ? { ...m, seq: y.seq } : m.seq === y.seq ? { ...m, seq: x.seq } : m))
        .sort((a, b) => a.seq - b.seq);
    await proxy.with([editHistory(upstream(), swap)], async () => {
      await catchUp(carol, chatId);
      await bob.send(chatId, 'after y', 'ed25519'); // prev: #y as bob saw it
      const changes = await catchUp(carol, chatId);
      expect(texts(changes)).toContain(
        `open: bob saw a different message #${y.seq} than you did: the server showed you different histories`,
      );
    });
  });

  it('a counter repeated on another message id: "alice\'s device sent two messages numbered n"', async () => {
    // two installations running on one copied state (a user folder copied to a second machine)
    const one = await libraryClient(server.url, 'alice');
    const chatId = await chat();
    await one.client.send(chatId, 'one', 'ed25519');
    const copy = new MemoryTranscriptStore();
    copy.saved = structuredClone(one.stores.transcripts.saved);
    const two = await libraryClient(server.url, 'alice', { keys: one.stores.keys, transcripts: copy });
    try {
      expect(await catchUp(bob, chatId)).toEqual([]);
      await one.client.send(chatId, 'two', 'ed25519');
      await two.client.send(chatId, 'three', 'ed25519');
      expect(texts(await catchUp(bob, chatId))).toEqual([
        "open: alice's device sent two messages numbered 2",
      ]);
    } finally {
      await one.client.close();
      await two.client.close();
    }
  });

  it('a post stored but answered with a refusal keeps its counter: the next post has the next one, no warning', async () => {
    const { client: liar } = await libraryClient(proxy.url, 'alice');
    try {
      const chatId = await chat();
      await liar.send(chatId, 'one', 'ed25519');
      expect(await catchUp(bob, chatId)).toEqual([]);
      await proxy.with([storeButRefuse(upstream())], () =>
        expect(liar.send(chatId, 'two', 'ed25519')).rejects.toThrow(/CLOCK_SKEW/),
      );
      const { seq } = await liar.send(chatId, 'three', 'ed25519');
      const page = await bob.api.listMessages(chatId, { after: seq - 1, limit: 1 });
      expect((page.messages[0] as MessageData).message.counter).toBe(3);
      expect(await catchUp(bob, chatId)).toEqual([]);
    } finally {
      await liar.close();
    }
  });

  it('a prev pointing past the newest message (messages renumbered) is a fork', async () => {
    const chatId = await chat();
    for (const t of ['1', '2', '3']) await alice.send(chatId, t, 'ed25519');
    expect(await catchUp(bob, chatId)).toEqual([]);
    const z = await bob.send(chatId, 'z', 'ed25519'); // seq 4, prev #3
    const renumber = (ms: MessageData[]) =>
      ms.filter((m) => m.seq !== 2 && m.seq !== 3).map((m) => (m.seq === z.seq ? { ...m, seq: 2 } : m));
    await proxy.with([editHistory(upstream(), renumber)], async () => {
      expect(texts(await catchUp(carol, chatId))).toContain(
        'open: bob saw a different message #3 than you did: the server showed you different histories',
      );
    });
  });

  it('a saved prev past the newest message (a forged seq) is refused as INVALID_PREV and sent again with one history confirms', async () => {
    const chatId = await chat();
    await alice.send(chatId, 'one', 'ed25519');
    const first = await libraryClient(server.url, 'carol');
    await catchUp(first.client, chatId);
    await first.client.transcript.flush();
    await first.client.close();
    // state saved before the fix: a relabelled message moved last (and prev) to #20001
    const saved = first.stores.transcripts.saved?.chats[chatId];
    if (!saved) throw new Error('no saved state');
    Object.assign(saved, { last: 20001, hashes: { ...saved.hashes, 20001: 'a'.repeat(64) } });
    delete saved.confirmed;
    const { client } = await libraryClient(server.url, 'carol', first.stores);
    try {
      const { seq } = await client.send(chatId, 'still heard', 'ed25519');
      const page = await bob.api.listMessages(chatId, { after: seq - 1, limit: 1 });
      expect((page.messages[0] as MessageData).message.prev?.seq).toBe(1);
      expect(await catchUp(bob, chatId)).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it('a version-2 message re-sent without its fields: the signature fails, it is refused', async () => {
    const chatId = await chat();
    const { seq } = await alice.send(chatId, 'signed with its fields', 'ed25519');
    const strip = (ms: MessageData[]) =>
      ms.map((m) => {
        const { device: _d, counter: _c, prev: _p, ...v1 } = m.message;
        return { ...m, message: v1 };
      });
    await proxy.with([editHistory(upstream(), strip)], async () => {
      const page = await carol.api.listMessages(chatId, { after: seq - 1, limit: 1 });
      const stripped = page.messages[0] as MessageData;
      expect(stripped.message.device).toBeUndefined();
      expect(await carol.verify(stripped, chatId)).toBe(false);
      await expect(carol.read(stripped, chatId)).rejects.toThrow(/signature does not verify/);
    });
  });
});
