import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startServerProcess } from '../../../scripts/child.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, seedFoldersForProcesses } from '../../support/helper.js';

const dirs = seedFoldersForProcesses();

const rss = async (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
const BURST = Number(process.env.SECURECHAT_BURST ?? 10_000);
/** ~3 KB events: 10,000 of them (30 MB) outgrow the kernel's socket buffers, so the server must act. */
const PADDING = 'x'.repeat(2000);

describe('a burst with a reader throttled to a trickle', () => {
  it(`${BURST} posts: server memory stays bounded, the trickle reader is cut and then gets every message`, {
    timeout: 240_000,
  }, async () => {
    const server = await startServerProcess({
      ...dirs.env,
      SECURECHAT_KEYS_DIR: dirs.keysDir,
      SECURECHAT_DEMO_USERS: 'false',
      BCRYPT_COST: '4',
      LOG_LEVEL: 'warn',
      SECURECHAT_POST_LIMIT: '1000000',
      SECURECHAT_ROTATE_MESSAGES: '1000000',
    });
    const pid = server.child.pid as number;
    try {
      const alice = await Participant.login(server.url, dirs.keysDir, 'alice', PASSWORD);
      const bob = await Participant.login(server.url, dirs.keysDir, 'bob', PASSWORD);
      const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
      const chatId = created.body.chat.id;
      await alice.acceptEnvelope(created.body.keyEnvelope);
      await bob.acceptEnvelope((await bob.api.call('joinChat', { params: { chatId } })).body.keyEnvelope);

      // bob reads his stream a few hundred bytes at a time, every 20 ms
      const url = new URL(server.url);
      const trickle = net.connect(Number(url.port), url.hostname);
      trickle.on('error', () => {});
      let received = '';
      trickle.write(`GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${bob.api.token}\r\n\r\n`);
      const sip = setInterval(() => {
        const chunk = trickle.read(300);
        if (chunk) received += chunk.toString('latin1');
      }, 20);
      trickle.pause();

      const before = await rss(pid);
      let peak = before;
      const seqs: number[] = [];
      const writers = 8;
      let next = 0;
      await Promise.all(
        Array.from({ length: writers }, async () => {
          while (next < BURST) {
            next += 1;
            const { res } = await alice.send(chatId, 1, `burst ${next} ${PADDING}`, 'ed25519');
            expect(res.status).toBe(201);
            seqs.push(res.body.seq);
            if (seqs.length % 500 === 0) peak = Math.max(peak, await rss(pid));
          }
        }),
      );
      peak = Math.max(peak, await rss(pid));
      clearInterval(sip);
      const cut = server.log.some((l) => l.includes('stream cut: client reads too slowly'));
      console.log(
        `burst of ${BURST}: server RSS ${Math.round(before / 2 ** 20)} MiB before, peak ${Math.round(peak / 2 ** 20)} MiB; ` +
          `trickle reader cut by the server: ${cut}, it had read ${received.length} bytes`,
      );
      // bounded: the trickle reader's backlog is capped (1 MiB) and then cut, so memory does not
      // grow with the burst (a buffered 10,000-message backlog alone would be several times this)
      expect(cut).toBe(true);
      expect(peak - before).toBeLessThan(100 * 2 ** 20);
      trickle.destroy();

      // every message is delivered to bob once he resumes (from before the burst)
      const last = Math.max(...seqs);
      const resumed = await bob.events('0');
      await resumed.nextOf('message', (d) => d.seq === last, 120_000);
      const got = new Set(resumed.events.filter((e) => e.event === 'message').map((e) => e.json.seq));
      expect(got.size).toBe(BURST);
      resumed.close();
    } finally {
      server.child.kill('SIGTERM');
    }
  });
});
