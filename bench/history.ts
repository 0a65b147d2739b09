/**
 * A 100-message history page with `stored` messages in one chat: the store's query, timed in a
 * process of its own (in the bench's main process, which holds the other sections' results, its
 * garbage collection showed up in the tail). Prints one JSON line; `bench/run.ts` runs it.
 *   node --import tsx bench/history.ts <stored> <folder>
 */
import { randomUUID } from 'node:crypto';
import { openSqliteStore } from '../src/store/sqlite.js';
import { percentile, round } from './measure.js';

const stored = Number(process.argv[2]);
const folder = process.argv[3];
if (!Number.isInteger(stored) || stored < 100 || !folder) {
  console.error('usage: node --import tsx bench/history.ts <stored, at least 100> <folder>');
  process.exit(2);
}
/** Pages timed: the p99 is the 10th slowest. */
const SAMPLES = 1000;

const store = openSqliteStore(folder);
const chatId = randomUUID();
const at = new Date().toISOString();
const members = [{ username: 'a', state: 'joined' as const, sinceEpoch: 1 }];
await store.createChat({ id: chatId, epoch: 1, createdBy: 'a', createdAt: at, members }, [], []);
const m = {
  epoch: 1,
  sentAt: at,
  iv: 'AAAAAAAAAAAAAAAA',
  ciphertext: 'A'.repeat(300),
  tag: 'AAAAAAAAAAAAAAAAAAAAAA==',
  signatureAlgorithm: 'ed25519' as const,
  signature: 'A'.repeat(88),
};
// a thousand at a time: they are stored in batches (group commit)
for (let i = 0; i < stored; i += 1000) {
  const n = Math.min(1000, stored - i);
  await Promise.all(
    Array.from({ length: n }, () =>
      store.appendMessage(
        { chatId, sender: 'a', receivedAt: at, message: { ...m, id: randomUUID() } },
        () => '{}',
      ),
    ),
  );
}
const times: number[] = [];
for (let i = 0; i < SAMPLES; i++) {
  const after = Math.floor(Math.random() * (stored - 100));
  const t = performance.now();
  const page = await store.listMessages(chatId, after, 100, 1, 4 * 1024 * 1024);
  times.push(performance.now() - t);
  if (page.length !== 100) throw new Error(`a page of ${page.length} messages, not 100`);
}
await store.close();
times.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    samples: SAMPLES,
    pageMsMedian: round(percentile(times, 50), 3),
    pageMsP99: round(percentile(times, 99), 3),
  }),
);
