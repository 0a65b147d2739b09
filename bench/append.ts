/**
 * `node --import tsx bench/append.ts [members] [messages] [inFlight]`: the SQLite store's append
 * alone (no HTTP, no verification), as `POST /chats/{id}/messages` calls it: `inFlight` posts
 * at a time into one chat of `members` joined members, each a 566-byte message. Prints the CPU µs
 * per appended message (this process's user + system time), median of 5 rounds.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { messageEventData } from '../src/store/rows.js';
import { openSqliteStore } from '../src/store/sqlite.js';

const [members = 10, messages = 20_000, inFlight = 64] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(path.join(tmpdir(), 'securechat-append-'));
const store = openSqliteStore(dir);
const chatId = randomUUID();
const now = () => new Date().toISOString();
await store.createChat(
  {
    id: chatId,
    epoch: 1,
    createdBy: 'user0',
    createdAt: now(),
    members: Array.from({ length: members }, (_, i) => ({
      username: `user${i}`,
      state: 'joined' as const,
      sinceEpoch: 1,
    })),
  },
  [],
  [],
);
const message = () => ({
  id: randomUUID(),
  epoch: 1,
  sentAt: now(),
  iv: 'A'.repeat(16),
  ciphertext: 'B'.repeat(344),
  tag: 'C'.repeat(22) + '==',
  signatureAlgorithm: 'ed25519' as const,
  signature: 'D'.repeat(86) + '==',
});

async function round(): Promise<number> {
  const start = process.cpuUsage();
  let next = 0;
  async function worker(): Promise<void> {
    while (next < messages) {
      next += 1;
      const m = message();
      const receivedAt = now();
      await store.appendMessage({ chatId, sender: 'user0', receivedAt, message: m }, (seq) =>
        messageEventData({ chatId, seq, sender: 'user0', receivedAt, message: m }),
      );
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / messages;
}

const rounds: number[] = [];
for (let i = 0; i < 6; i++) rounds.push(await round());
rounds.shift(); // the first warms up
rounds.sort((a, b) => a - b);
console.log(
  `append, chat of ${members}, ${inFlight} in flight: ${rounds[2].toFixed(1)} µs CPU per message ` +
    `(rounds ${rounds.map((r) => r.toFixed(1)).join(', ')})`,
);
console.log(`node --import tsx bench/append.ts ${members} ${messages} ${inFlight}`);
await store.close();
rmSync(dir, { recursive: true, force: true });
