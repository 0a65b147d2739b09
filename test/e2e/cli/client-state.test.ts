import { spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Session } from '../../../cli/session.js';
import { TrustStore } from '../../../cli/trust.js';
import { chatOf } from '../../support/chats.js';
import {
  alice,
  bob,
  carol,
  envelopeOf,
  readJson,
  server,
  useLyingServer,
  userFile,
} from '../../support/cli-proxy.js';
import { PASSWORD, tempDir } from '../../support/helper.js';

// The CLI's checks against a lying server (the review of the CLI, tests A1–A11, and its race
// scripts): each attack, against the real CLI over real HTTP through a proxy that lies
// (test/support/cli-proxy.ts), and refused.
useLyingServer();

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('concurrent saves of the client state lose nothing and never lower an epoch (A9)', () => {
  it('two accepts at once keep the highest epoch, in memory and on disk', async () => {
    for (let trial = 0; trial < 6; trial++) {
      const a = await chatOf(alice, bob);
      await alice.api.call('inviteToChat', { params: { chatId: a }, body: { invitees: ['carol'] } });
      const e2 = await envelopeOf(bob, a);
      await carol.api.call('leaveChat', { params: { chatId: a } });
      await alice.api.call('inviteToChat', { params: { chatId: a }, body: { invitees: ['carol'] } });
      const e3 = await envelopeOf(bob, a);
      expect(e3.epoch).toBeGreaterThan(e2.epoch);
      const s = await Session.open({
        server: server.url,
        username: 'bob',
        password: PASSWORD,
        keysDir: server.keysDir,
      });
      try {
        const order = trial % 2 ? [e3, e2] : [e2, e3];
        const settled = await Promise.allSettled(order.map((e) => s.chatKeys.accept(e, { chatId: a })));
        expect(settled[order.indexOf(e3)].status).toBe('fulfilled');
        expect(s.store.state.epochs.get(a)).toBe(e3.epoch);
        // every save has finished once the one after them has
        await s.store.saveState();
        expect((await readJson(userFile('bob', 'state.json'))).epochs[a]).toBe(e3.epoch);
      } finally {
        await s.close();
      }
    }
    const left = (await readdir(path.join(server.keysDir, 'users', 'bob'))).filter((f) =>
      /\.(tmp|lock)$/.test(f),
    );
    expect(left).toEqual([]);
  });

  it('two processes saving at once lose nothing (a lock around read-merge-write, own temp files)', async () => {
    const dir = await tempDir();
    const script = `
      import { TrustStore } from ${JSON.stringify(path.join(ROOT, 'cli', 'trust.ts'))};
      const [dir, chat, n] = process.argv.slice(1);
      const t = await TrustStore.load(dir, 'u');
      for (let i = 1; i <= Number(n); i++) {
        t.state.envelopes.set(chat + '/' + i, { chatId: chat, epoch: i });
        t.state.epochs.set(chat, i);
        await t.saveState();
      }`;
    const run = (chat: string) =>
      new Promise<number | null>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script, dir, chat, '150'],
          { cwd: ROOT, stdio: 'inherit' },
        );
        child.on('close', resolve);
      });
    expect(await Promise.all([run('A'), run('B')])).toEqual([0, 0]);
    const state = await readJson(path.join(dir, 'users', 'u', 'state.json'));
    expect(state.epochs).toEqual({ A: 150, B: 150 });
    const ids = Object.keys(state.envelopes);
    expect(ids.filter((k) => k.startsWith('A/'))).toHaveLength(150);
    expect(ids.filter((k) => k.startsWith('B/'))).toHaveLength(150);
    expect(await readdir(path.join(dir, 'users', 'u'))).toEqual(['state.json']);
  }, 120_000);

  it('a lock left by a client that is gone does not block the next one', async () => {
    const dir = await tempDir();
    const store = await TrustStore.load(dir, 'u');
    const file = path.join(dir, 'users', 'u', 'state.json');
    await store.saveState();
    // a pid that cannot be running (above the kernel's pid_max)
    await writeFile(`${file}.lock`, '4194305');
    store.state.epochs.set('A', 3);
    await store.saveState();
    expect((await readJson(file)).epochs).toEqual({ A: 3 });
  });
});
