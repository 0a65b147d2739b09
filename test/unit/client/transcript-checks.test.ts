import { describe, expect, it } from 'vitest';
import type { Api } from '../../../src/client/api.js';
import type { MessageData } from '../../../src/client/message.js';
import { Transcript } from '../../../src/client/transcript.js';
import { messageHash } from '../../../src/client/transcript-history.js';
import { MemoryTranscriptStore, newDevice } from '../../../src/client/transcript-store.js';
import type { WarningChange } from '../../../src/client/transcript-types.js';
import { MAX_DEVICES } from '../../../src/client/transcript-types.js';

// The three checks of protocol.md "Transcript integrity", made by the client library on messages
// a lying server hands it: no server here, a history that answers what the test says.

const CHAT = '0b0e3ae0-1a35-4f43-9d0a-2f3b6c1c2d3e';
const ALICE = 'AAECAwQFBgcICQoLDA0ODw';
const BOB = 'EBESExQVFhcYGRobHB0eHw';

let ids = 0;
function message(
  seq: number,
  sender: string,
  fields?: { device: string; counter: number; prev: { seq: number; hash: string } | null },
): MessageData {
  return {
    chatId: CHAT,
    seq,
    sender,
    receivedAt: '2026-12-07T20:00:00.000Z',
    message: {
      id: `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`,
      epoch: 1,
      sentAt: '2026-12-07T20:00:00.000Z',
      iv: 'AAAAAAAAAAAAAAAA',
      ciphertext: `${btoa(String(seq))}`,
      tag: 'AAAAAAAAAAAAAAAAAAAAAA==',
      signatureAlgorithm: 'ed25519',
      signature: 'AAAA',
      ...fields,
    },
  };
}

/** A client of `me` over a history that holds `stored` (what the server chooses to return). */
function client(
  stored: MessageData[],
  store = new MemoryTranscriptStore(),
  me = 'carol',
  verify = async (_m: MessageData) => true,
) {
  const api = {
    async listMessages(_chatId: string, q: { after?: number; limit?: number }) {
      const after = q.after ?? 0;
      return { messages: stored.filter((m) => m.seq > after).slice(0, q.limit ?? 100) };
    },
  } as unknown as Api;
  return new Transcript({ api, username: me, store, verify });
}

const texts = (changes: WarningChange[]) => changes.map((c) => `${c.status}: ${c.warning.text}`);

/** A conversation of alice and bob, each message pointing at the one before. */
async function conversation(n: number, senders = ['alice', 'bob']): Promise<MessageData[]> {
  const out: MessageData[] = [];
  const counters = new Map<string, number>();
  for (let seq = 1; seq <= n; seq++) {
    const sender = senders[seq % senders.length];
    const counter = (counters.get(sender) ?? 0) + 1;
    counters.set(sender, counter);
    const before = out.at(-1);
    const prev = before ? { seq: before.seq, hash: await messageHash(before) } : null;
    out.push(message(seq, sender, { device: sender === 'alice' ? ALICE : BOB, counter, prev }));
  }
  return out;
}

describe('transcript checks in the client library', () => {
  it('a conversation received in order, with repeats of deliveries, warns of nothing', async () => {
    const all = await conversation(40);
    const t = client(all);
    for (const m of all) expect((await t.receive(m, true)).changes).toEqual([]);
    for (const m of all.slice(30)) expect((await t.receive(m, true)).changes).toEqual([]);
    expect(t.warnings(CHAT)).toEqual([]);
  });

  it('a message dropped for everyone: "1 message from alice is missing", and #n withheld', async () => {
    const all = await conversation(6);
    const dropped = all[3]; // seq 4, alice's 2nd
    const history = all.filter((m) => m !== dropped);
    const t = client(history);
    for (const m of all.slice(0, 3)) await t.receive(m, true);
    const r = await t.receive(all[4], true);
    expect(texts(r.changes)).toEqual(['open: message #4 was withheld from you']);
    const r2 = await t.receive(all[5], true); // alice's next: counter 3 after 1
    expect(texts(r2.changes)).toEqual(['open: 1 message from alice is missing']);
    // and it resolves when the missing message arrives after all
    const late = await t.receive(dropped, true);
    expect(texts(late.changes).sort()).toEqual([
      'resolved: 1 message from alice is missing',
      'resolved: message #4 was withheld from you',
    ]);
    expect(t.warnings(CHAT)).toEqual([]);
  });

  it('a message relabelled with a huge seq: one warning for the range, prev stays on what history confirms', async () => {
    const all = await conversation(3);
    const t = client([all[0]]); // history returns nothing after #1
    await t.receive(all[0], true);
    const relabelled = { ...all[1], seq: 20001 };
    expect(texts((await t.receive(relabelled, true)).changes)).toEqual([
      'open: messages #2–#20000 were withheld from you',
    ]);
    expect((await t.next(CHAT)).prev?.seq).toBe(1);
    const huge = { ...all[2], seq: Number.MAX_SAFE_INTEGER };
    expect(texts((await t.receive(huge, true)).changes)).toEqual([
      `open: messages #20002–#${Number.MAX_SAFE_INTEGER - 1} were withheld from you`,
    ]);
    expect((await t.next(CHAT)).prev?.seq).toBe(1);
    // the real #2 comes: the range splits, and prev moves on to it
    const real2 = message(2, 'alice', { device: ALICE, counter: 2, prev: null });
    expect(texts((await t.receive(real2, true)).changes)).toEqual([
      'resolved: messages #2–#20000 were withheld from you',
      'open: messages #3–#20000 were withheld from you',
    ]);
    expect((await t.next(CHAT)).prev?.seq).toBe(2);
  });

  it('an old message replayed at a withheld seq: "the server showed you message #1 again as #2", #2 stays withheld', async () => {
    const a1 = message(1, 'alice', { device: ALICE, counter: 1, prev: null });
    const b2 = message(2, 'bob', { device: BOB, counter: 1, prev: { seq: 1, hash: await messageHash(a1) } });
    const a3 = message(3, 'alice', {
      device: ALICE,
      counter: 2,
      prev: { seq: 2, hash: await messageHash(b2) },
    });
    const replayed = { ...a1, seq: 2 };
    const t = client([a1, replayed, a3]); // the history lies the same way
    await t.receive(a1, true);
    expect(texts((await t.receive(replayed, true)).changes)).toEqual([
      'open: the server showed you message #1 again as #2',
      'open: message #2 was withheld from you',
    ]);
    await t.receive(a3, true);
    expect(t.warnings(CHAT).map((w) => w.kind)).toContain('withheld');
    // the real #2 arrives after all: the withholding resolves, the replay stays said
    expect(texts((await t.receive(b2, true)).changes)).toEqual([
      'resolved: message #2 was withheld from you',
    ]);
  });

  it('a message refused while its sender\'s new keys await acceptance is taken in once it verifies: no false "missing"', async () => {
    const all = await conversation(6);
    let accepted = false;
    const t = client(all, undefined, 'carol', async (m) => accepted || m !== all[3]);
    for (const m of all.slice(0, 3)) await t.receive(m, true);
    await t.receive(all[4], true); // #4 (alice's 2nd) fetched, refused
    expect(texts((await t.receive(all[5], true)).changes)).toEqual(['open: 1 message from alice is missing']);
    accepted = true; // the keys are accepted: #4 is read again
    expect(texts((await t.receive(all[3], true)).changes)).toEqual([
      'resolved: 1 message from alice is missing',
    ]);
    expect(t.warnings(CHAT)).toEqual([]);
  });

  it('the devices kept per sender are capped: the least recently heard goes first', async () => {
    const store = new MemoryTranscriptStore();
    const t = client([], store);
    for (let seq = 1; seq <= 40; seq++)
      await t.receive(message(seq, 'alice', { device: newDevice(), counter: 1, prev: null }), true);
    await t.flush();
    expect(Object.keys(store.saved?.chats[CHAT]?.devices ?? {}).length).toBe(MAX_DEVICES);
    expect(t.warnings(CHAT)).toEqual([]);
  });

  it('a gap the history fills is no warning: its messages come back to be shown', async () => {
    const all = await conversation(5);
    const t = client(all);
    await t.receive(all[0], true);
    const r = await t.receive(all[4], true);
    expect(r.changes).toEqual([]);
    expect(r.recovered.map((m) => m.seq)).toEqual([2, 3, 4]);
  });

  it('a fork: a prev.hash that is not the hash of this client\'s copy is "saw a different message #n"', async () => {
    const all = await conversation(4);
    const t = client(all);
    for (const m of all.slice(0, 3)) await t.receive(m, true);
    const forked = message(4, 'alice', { device: ALICE, counter: 2, prev: { seq: 3, hash: 'f'.repeat(64) } });
    expect(texts((await t.receive(forked, true)).changes)).toEqual([
      'open: alice saw a different message #3 than you did: the server showed you different histories',
    ]);
  });

  it('a prev pointing past the newest message is a fork too', async () => {
    const all = await conversation(3);
    const t = client(all);
    for (const m of all) await t.receive(m, true);
    const ahead = message(4, 'bob', { device: BOB, counter: 3, prev: { seq: 9, hash: 'a'.repeat(64) } });
    expect(texts((await t.receive(ahead, true)).changes)).toEqual([
      'open: bob saw a different message #9 than you did: the server showed you different histories',
    ]);
  });

  it('a counter repeated on another message id is "alice\'s device sent two messages numbered n"', async () => {
    const all = await conversation(3);
    const t = client(all);
    for (const m of all) await t.receive(m, true);
    const again = message(4, 'alice', { device: ALICE, counter: 1, prev: null });
    expect(texts((await t.receive(again, true)).changes)).toEqual([
      "open: alice's device sent two messages numbered 1",
    ]);
  });

  it('a message that did not verify is left out of the checks (a forged seq moves nothing); version 1 is not covered', async () => {
    const all = await conversation(2);
    const t = client(all);
    await t.receive(all[0], true);
    const forged = message(99, 'bob', { device: BOB, counter: 99, prev: null });
    expect((await t.receive(forged, false)).changes).toEqual([]);
    expect((await t.next(CHAT)).prev?.seq).toBe(1);
    const v1 = message(3, 'bob');
    const r = await t.receive(v1, true);
    expect([r.covered, r.changes]).toEqual([false, []]);
  });

  it('warnings are kept per chat across a restart, and resolved after it', async () => {
    const all = await conversation(6);
    const store = new MemoryTranscriptStore();
    const before = client([], store);
    for (const m of all.slice(0, 3)) await before.receive(m, true);
    await before.receive(all[4], true); // #4 withheld (history empty)
    const after = client(all, store);
    expect(after.warnings(CHAT).map((w) => w.text)).toEqual(['message #4 was withheld from you']);
    const r = await after.receive(all[3], true);
    expect(texts(r.changes)).toEqual(['resolved: message #4 was withheld from you']);
  });

  it('a warning right after the chat was joined is saved at once: a reload within the second keeps it', async () => {
    const all = await conversation(6);
    const store = new MemoryTranscriptStore();
    const t = client([], store); // history returns nothing: #4 withheld
    await t.joined(CHAT); // a save, not of a warning
    for (const m of all.slice(0, 3)) await t.receive(m, true);
    await t.receive(all[4], true);
    const reloaded = client([], store); // reloaded now: a new client over what was saved
    expect(reloaded.warnings(CHAT).map((w) => w.text)).toEqual(['message #4 was withheld from you']);
  });

  it('a second client on the same store does not wipe the warnings the first one saved', async () => {
    const all = await conversation(6);
    const other = '1c0e3ae0-1a35-4f43-9d0a-2f3b6c1c2d3e';
    const store = new MemoryTranscriptStore();
    const setup = client(all, store);
    for (const m of all.slice(0, 3)) await setup.receive(m, true);
    await setup.flush();
    const tab1 = client([], store); // history returns nothing: #4 withheld
    const tab2 = client([], store); // the same chat loaded, then only another chat changes
    await tab1.receive(all[4], true);
    await tab2.receive({ ...all[0], chatId: other }, true);
    await tab2.receive({ ...all[2], chatId: other }, true);
    expect(
      client([], store)
        .warnings(CHAT)
        .map((w) => w.text),
    ).toEqual(['message #4 was withheld from you']);
  });

  it('a device id is made once and kept; counters are saved before use, never given back, kept for one post id', async () => {
    const store = new MemoryTranscriptStore();
    const t = client([], store, 'alice');
    const a = await t.next(CHAT, 'post-a');
    expect(a.device).toMatch(/^[A-Za-z0-9_-]{21}[AQgw]$/);
    expect(store.saved?.counters[CHAT]).toBe(1);
    const b = await t.next(CHAT, 'post-b');
    expect([b.device, b.counter]).toEqual([a.device, 2]);
    // post-b is tried again (a refusal that passes): the same counter; another post never gets it
    expect((await t.next(CHAT, 'post-b')).counter).toBe(2);
    expect((await client([], store, 'alice').next(CHAT)).counter).toBe(3);
    expect(newDevice()).not.toBe(newDevice());
  });

  it('a device that lost its counters counts only its messages whose signature verifies (a forged huge counter is not)', async () => {
    const all = await conversation(5); // alice (ALICE) posted counters 1 and 2
    const forged = message(6, 'alice', { device: ALICE, counter: Number.MAX_SAFE_INTEGER, prev: null });
    const store = new MemoryTranscriptStore();
    store.saved = { device: ALICE, counters: {}, chats: {} };
    const t = client([...all, forged], store, 'alice', async (m) => m !== forged);
    expect((await t.next(CHAT)).counter).toBe(3);
  });

  it('a device that lost its counters finds its highest in history before posting; prev is the latest', async () => {
    const all = await conversation(5); // alice (ALICE) posted counters 1 and 2
    const store = new MemoryTranscriptStore();
    store.saved = { device: ALICE, counters: {}, chats: {} };
    const t = client(all, store, 'alice');
    expect((await t.next(CHAT)).counter).toBe(3);
    for (const m of all) await t.receive(m, true);
    const next = await t.next(CHAT);
    expect(next).toEqual({ device: ALICE, counter: 4, prev: { seq: 5, hash: await messageHash(all[4]) } });
  });
});
