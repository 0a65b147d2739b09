import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Context } from '../../cli/context.js';
import { showEvent } from '../../cli/events.js';
import { Session } from '../../cli/session.js';
import { startServerProcess } from '../../scripts/child.js';
import { type FeedEvent, follow, SeenMessages, type SignatureAlgorithm } from '../../src/client/index.js';
import { PASSWORD, seedFoldersForProcesses } from '../support/helper.js';
import { freePort, type Nginx, startNginx } from '../support/nginx.js';

// A rolling restart behind deploy/nginx/securechat.conf: two CLI-library clients chat at a steady
// rate in a server-mode and a members-mode chat while instance A is stopped (SIGTERM) and started
// again, then B. Nothing answered 201 may be lost, repeated or reordered, and no error may reach
// the user.
const dirs = seedFoldersForProcesses();
const env = () => ({
  ...dirs.env,
  SECURECHAT_KEYS_DIR: dirs.keysDir,
  SECURECHAT_DEMO_USERS: 'false',
  BCRYPT_COST: '4',
  SECURECHAT_TRUST_PROXY: '127.0.0.1',
  SECURECHAT_SHUTDOWN_MS: '5000',
  SECURECHAT_POST_LIMIT: '100000',
});
const POST_EVERY_MS = 100;

const children = new Set<ChildProcess>();
let nginx: Nginx | undefined;
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await nginx?.stop();
});

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );

/** Resolves once `test` holds, checked whenever `wake` is called (no polling on a timer). */
function waiter() {
  const waiting: { test: () => boolean; resolve: () => void }[] = [];
  return {
    wake() {
      for (const w of waiting.splice(0)) {
        if (w.test()) w.resolve();
        else waiting.push(w);
      }
    },
    until(test: () => boolean): Promise<void> {
      return test() ? Promise.resolve() : new Promise((resolve) => waiting.push({ test, resolve }));
    },
  };
}

interface Delivery {
  chatId: string;
  seq: number;
  id: string;
  at: number;
}

/** A user on the CLI's library, following its stream through nginx as `securechat listen` does. */
async function user(username: string, url: string, ca: string, changed: () => void) {
  const session = await Session.open({
    server: url,
    username,
    password: PASSWORD,
    keysDir: dirs.keysDir,
    ca,
  });
  const warnings: string[] = [];
  const deliveries: Delivery[] = [];
  let connects = 0;
  const ctx: Context = {
    session,
    json: false,
    say: () => {},
    warn: (line) => warnings.push(line),
    result: () => {},
    pending: [],
    seen: new SeenMessages(),
  };
  const abort = new AbortController();
  const feed = follow(
    session.api,
    {
      onEvent: async (event: FeedEvent) => {
        if (event.type === 'message')
          deliveries.push({
            chatId: event.data.chatId,
            seq: event.data.seq,
            id: event.id ?? '',
            at: Date.now(),
          });
        await showEvent(ctx, event);
        changed();
      },
      onStatus: (status) => {
        if (status === 'connected') connects += 1;
        changed();
      },
    },
    abort.signal,
  ).catch((error) => warnings.push(`the stream stopped: ${error}`));
  return {
    session,
    ctx,
    warnings,
    deliveries,
    connects: () => connects,
    async close() {
      abort.abort();
      await feed;
      await session.close();
    },
  };
}

describe('a rolling restart behind nginx', () => {
  it('loses, repeats and reorders nothing, and no error reaches the user', { timeout: 120_000 }, async () => {
    const ports = [await freePort(), await freePort()];
    nginx = await startNginx([`127.0.0.1:${ports[0]}`, `127.0.0.1:${ports[1]}`]);
    const instances: { child: ChildProcess; log: string[] }[] = [];
    const start = async (i: number) => {
      const server = await startServerProcess({ ...env(), PORT: String(ports[i]) });
      children.add(server.child);
      instances[i] = server;
    };
    await Promise.all([start(0), start(1)]);

    const state = waiter();
    const alice = await user('alice', nginx.url, nginx.ca, state.wake);
    const bob = await user('bob', nginx.url, nginx.ca, state.wake);
    await state.until(() => alice.connects() > 0 && bob.connects() > 0);

    // one chat in each key mode, both joined
    const chats: string[] = [];
    for (const keyMode of ['server', 'members'] as const) {
      const { chat } = await alice.session.createChat(['bob'], { keyMode });
      await state.until(() => bob.ctx.pending.includes(chat.id));
      await bob.session.join(chat.id);
      chats.push(chat.id);
    }

    // both post at a steady rate, in turn to each chat, with each signature scheme
    const answered = new Map<string, { seq: number; id: string }[]>(chats.map((c) => [c, []]));
    const errors: string[] = [];
    let posting = true;
    let posts = 0;
    const algs: SignatureAlgorithm[] = ['ed25519', 'rsa-pss-sha256', 'dsa-sha256'];
    const poster = async (who: typeof alice) => {
      for (let n = 0; posting; n++) {
        const chatId = chats[n % 2];
        const next = new Promise((resolve) => setTimeout(resolve, POST_EVERY_MS));
        try {
          const { seq } = await who.session.send(chatId, `${who.session.username} ${n}`, algs[n % 3]);
          answered.get(chatId)?.push({ seq, id: `${who.session.username} ${n}` });
          posts += 1;
          state.wake();
        } catch (error) {
          errors.push(`${who.session.username}: ${(error as Error).message}`);
        }
        await next;
      }
    };
    const posters = [poster(alice), poster(bob)];

    // A, then B: SIGTERM, wait for the exit, start it again, and wait until nginx sends it
    // requests again (its log shows one) before the next
    const began = Date.now();
    const exits: (number | null)[] = [];
    const phases: string[] = [];
    for (const i of [0, 1]) {
      const before = posts;
      await state.until(() => posts >= before + 10);
      const { child } = instances[i];
      const t0 = Date.now();
      child.kill('SIGTERM');
      exits.push(await exited(child));
      const t1 = Date.now();
      children.delete(child);
      await start(i);
      const t2 = Date.now();
      const served = () => instances[i].log.some((line) => line.includes('/chats/'));
      const watch = setInterval(state.wake, 100);
      await state.until(served);
      clearInterval(watch);
      phases.push(
        `${'AB'[i]}: exit ${t1 - t0} ms, start ${t2 - t1} ms, back behind nginx ${Date.now() - t2} ms`,
      );
    }
    const after = posts;
    await state.until(() => posts >= after + 10);
    posting = false;
    await Promise.all(posters);
    const rollingMs = Date.now() - began;

    // every member's stream catches up with the last post answered in each chat
    const last = (c: string) => Math.max(...(answered.get(c) ?? []).map((a) => a.seq));
    for (const u of [alice, bob]) {
      await state.until(() =>
        chats.every((c) => u.deliveries.some((d) => d.chatId === c && d.seq === last(c))),
      );
    }

    const accessLog = await readFile(path.join(nginx.root, 'logs/access.log'), 'utf8');
    const statuses = accessLog
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { status: string; uri: string; retryAfter: string; upstreamStatus: string },
      );
    const fiveHundreds = statuses.filter((s) => s.status.startsWith('5'));
    // what nginx met upstream and passed on to the other instance (a refused connection, a 503)
    const passedOn = statuses.filter((s) => s.upstreamStatus.includes(','));

    let longestGap = 0;
    for (const u of [alice, bob]) {
      for (const c of chats) {
        const seqs = u.deliveries.filter((d) => d.chatId === c).map((d) => d.seq);
        // exactly once, in order: the seqs delivered are 1..last with nothing repeated or skipped
        expect(seqs, `${u.session.username} in ${c}`).toEqual(seqs.map((_, i) => i + 1));
        // and everything answered 201 is among them
        const delivered = new Set(seqs);
        for (const a of answered.get(c) ?? []) expect(delivered.has(a.seq), a.id).toBe(true);
      }
      const times = u.deliveries.map((d) => d.at);
      for (let i = 1; i < times.length; i++) longestGap = Math.max(longestGap, times[i] - times[i - 1]);
    }
    const deliveries = alice.deliveries.length + bob.deliveries.length;
    console.log(
      `rolling restart: ${posts} posts answered 201 in ${(rollingMs / 1000).toFixed(1)} s, ` +
        `${deliveries} deliveries (${posts} × 2 members), longest gap a client saw ` +
        `${(longestGap / 1000).toFixed(2)} s, reconnects alice ${alice.connects() - 1} bob ${bob.connects() - 1}, ` +
        `5xx through nginx: ${fiveHundreds.map((s) => `${s.status} ${s.uri}`).join(', ') || 'none'}; ` +
        `passed on by nginx: ${passedOn.map((s) => `${s.uri.split('/')[1]} ${s.upstreamStatus}`).join('; ') || 'none'}; ` +
        phases.join('; '),
    );
    expect(exits).toEqual([0, 0]);
    expect(errors).toEqual([]);
    expect([...alice.warnings, ...bob.warnings]).toEqual([]);
    expect(deliveries).toBe(2 * posts);
    // both streams were cut by the restarts and resumed (with Last-Event-ID: nothing missed above)
    expect(alice.connects()).toBeGreaterThan(1);
    expect(bob.connects()).toBeGreaterThan(1);
    for (const s of fiveHundreds) {
      expect(s.status, s.uri).toBe('503');
      expect(s.retryAfter, s.uri).toMatch(/^\d+$/);
    }
    await alice.close();
    await bob.close();
  });
});
