/**
 * What the transcript checks (protocol.md, "Transcript integrity") cost a client per message
 * received: a conversation of `count` messages of three senders (every one pointing at the one
 * before) through `Transcript.receive`, the signature check left out (the client makes it anyway,
 * before the checks) and the state kept in memory (a save to disk every 50 messages comes on top).
 * Prints medians of several runs, in µs per message: the whole step (hash, checks, the state's
 * copies into the memory store), the hash alone, and the three checks alone (hashes made before).
 *   node --import tsx bench/transcript.ts [count]
 */
import type { Api } from '../src/client/api.js';
import type { MessageData } from '../src/client/message.js';
import { Transcript } from '../src/client/transcript.js';
import { messageHash } from '../src/client/transcript-history.js';
import { ChatChecks } from '../src/client/transcript-state.js';
import { MemoryTranscriptStore } from '../src/client/transcript-store.js';
import { emptyChat } from '../src/client/transcript-types.js';
import { percentile, round } from './measure.js';

const count = Number(process.argv[2] ?? 2000);
const RUNS = 7;
const CHAT = '0b0e3ae0-1a35-4f43-9d0a-2f3b6c1c2d3e';
const senders = ['alice', 'bob', 'carol'];
const devices = ['AAECAwQFBgcICQoLDA0ODw', 'EBESExQVFhcYGRobHB0eHw', 'ICEiIyQlJicoKSorLC0uLw'];
const body = 'A'.repeat(400); // a short message's ciphertext

async function conversation(): Promise<MessageData[]> {
  const out: MessageData[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const i = seq % 3;
    const before = out.at(-1);
    out.push({
      chatId: CHAT,
      seq,
      sender: senders[i],
      receivedAt: '2026-12-07T20:00:00.000Z',
      message: {
        id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
        epoch: 1,
        sentAt: '2026-12-07T20:00:00.000Z',
        iv: 'AAAAAAAAAAAAAAAA',
        ciphertext: body,
        tag: 'AAAAAAAAAAAAAAAAAAAAAA==',
        signatureAlgorithm: 'ed25519',
        signature: 'A'.repeat(88),
        device: devices[i],
        counter: Math.ceil(seq / 3),
        prev: before ? { seq: before.seq, hash: await messageHash(before) } : null,
      },
    });
  }
  return out;
}

const messages = await conversation();
const api = { listMessages: async () => ({ messages: [] }) } as unknown as Api;
const hashes = await Promise.all(messages.map((m) => messageHash(m)));
const step: number[] = [];
const hash: number[] = [];
const checks: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const t = new Transcript({
    api,
    username: 'dave',
    store: new MemoryTranscriptStore(),
    verify: async () => true,
  });
  let start = performance.now();
  for (const m of messages) {
    const r = await t.receive(m, true);
    if (r.changes.length > 0) throw new Error(`a false alarm: ${r.changes[0].warning.text}`);
  }
  step.push(((performance.now() - start) * 1000) / count);
  start = performance.now();
  for (const m of messages) await messageHash(m);
  hash.push(((performance.now() - start) * 1000) / count);
  const c = new ChatChecks(CHAT, emptyChat());
  start = performance.now();
  for (const [i, m] of messages.entries()) {
    const { device, counter, prev } = m.message;
    const seen = { seq: m.seq, sender: m.sender, id: m.message.id, hash: hashes[i] };
    const own = prev ? hashes[prev.seq - 1] : undefined;
    c.observe(
      { ...seen, transcript: { device: device as string, counter: counter as number, prev: prev ?? null } },
      own,
    );
  }
  checks.push(((performance.now() - start) * 1000) / count);
}
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
console.log(
  JSON.stringify({
    messages: count,
    runs: RUNS,
    receiveUsPerMessage: round(median(step)),
    hashUsPerMessage: round(median(hash)),
    checksAloneUsPerMessage: round(median(checks), 2),
  }),
);
