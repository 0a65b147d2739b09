import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { startServerProcess } from '../../scripts/child.js';
import { Participant } from '../support/client.js';
import { PASSWORD, seedFoldersForProcesses } from '../support/helper.js';

const dirs = seedFoldersForProcesses();

const env = () => ({
  ...dirs.env,
  SECURECHAT_KEYS_DIR: dirs.keysDir,
  SECURECHAT_DEMO_USERS: 'false',
  BCRYPT_COST: '4',
  SECURECHAT_POST_LIMIT: '100000',
});

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

async function chat(url: string) {
  const alice = await Participant.login(url, dirs.keysDir, 'alice', PASSWORD);
  const bob = await Participant.login(url, dirs.keysDir, 'bob', PASSWORD);
  const created = await alice.api.call('createChat', { body: { invitees: ['bob'] } });
  const chatId = created.body.chat.id;
  await alice.acceptEnvelope(created.body.keyEnvelope);
  await bob.acceptEnvelope((await bob.api.call('joinChat', { params: { chatId } })).body.keyEnvelope);
  return { alice, bob, chatId };
}

type Outcome = { id: string; status: number | 'refused' | 'reset' | `failed: ${string}` };

async function post(alice: Participant, chatId: string, i: number): Promise<Outcome> {
  const body = alice.compose(chatId, 1, `message ${i}`, 'ed25519');
  try {
    const res = await alice.api.call('postMessage', { params: { chatId }, body });
    return { id: body.id, status: res.status };
  } catch (error) {
    const code =
      (error as { code?: string; cause?: { code?: string } }).cause?.code ??
      (error as { code?: string }).code;
    if (code === 'ECONNREFUSED') return { id: body.id, status: 'refused' };
    if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return { id: body.id, status: 'reset' };
    // anything else (an undocumented status, a bad body) is the server's error, not the shutdown's
    return { id: body.id, status: `failed: ${error}` };
  }
}

describe('a real server process', () => {
  it('on SIGTERM finishes the posts in flight, ends streams, closes the database and exits 0', async () => {
    const server = await startServerProcess(env());
    const { alice, bob, chatId } = await chat(server.url);
    const stream = await bob.events();
    const inFlight = Array.from({ length: 20 }, (_, i) => post(alice, chatId, i));
    // let the server start on them, then ask it to stop
    await stream.nextOf('message');
    const exit = exited(server.child);
    server.child.kill('SIGTERM');
    const outcomes = await Promise.all(inFlight);
    expect(await exit).toEqual({ code: 0, signal: null });
    await stream.done;
    const accepted = outcomes.filter((o) => o.status === 201).map((o) => o.id);
    // refused (503) or left without an answer: never processed (checked below)
    const unanswered = outcomes.filter((o) => o.status !== 201).map((o) => o.id);
    // each post was accepted, refused while closing, or left unanswered: never an error
    for (const o of outcomes) expect([201, 503, 'reset', 'refused'], o.id).toContain(o.status);
    expect(accepted.length).toBeGreaterThan(0);

    const again = await startServerProcess({ ...env(), PORT: new URL(server.url).port });
    try {
      const history = await alice.api.call('listMessages', { params: { chatId }, query: { limit: 1000 } });
      const ids = history.body.messages.map((m: { message: { id: string } }) => m.message.id);
      for (const id of accepted) expect(ids).toContain(id);
      // nothing was cut off mid-request: a post refused or left without an answer was never processed
      for (const id of unanswered) expect(ids).not.toContain(id);
      expect(server.log.some((l) => l.includes('shutting down'))).toBe(true);
    } finally {
      again.child.kill('SIGTERM');
      await exited(again.child);
    }
  });

  it('killed with -9 in a burst of posts: every 201 is in history exactly once, seq has no gaps', async () => {
    const server = await startServerProcess(env());
    const { alice, bob, chatId } = await chat(server.url);
    const outcomes: Outcome[] = [];
    let next = 0;
    const exit = exited(server.child);
    // ten writers; the server is killed after the 60th answer
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < 400) {
          const outcome = await post(alice, chatId, next++);
          outcomes.push(outcome);
          if (outcomes.length === 60) server.child.kill('SIGKILL');
          if (outcome.status !== 201) return;
        }
      }),
    );
    expect((await exit).signal).toBe('SIGKILL');
    console.log(
      `kill -9: ${outcomes.filter((o) => o.status === 201).length} answered 201 of ${outcomes.length} tried`,
    );

    const again = await startServerProcess({ ...env(), PORT: new URL(server.url).port });
    try {
      const history = (await alice.api.call('listMessages', { params: { chatId }, query: { limit: 1000 } }))
        .body.messages;
      const seqs = history.map((m: { seq: number }) => m.seq);
      expect(seqs).toEqual(seqs.map((_: number, i: number) => i + 1));
      const ids = history.map((m: { message: { id: string } }) => m.message.id);
      expect(new Set(ids).size).toBe(ids.length);
      const accepted = outcomes.filter((o) => o.status === 201).map((o) => o.id);
      expect(accepted.length).toBeGreaterThanOrEqual(55);
      for (const id of accepted) expect(ids).toContain(id);
      // whatever is stored is whole: it verifies, decrypts, and has its event
      for (const m of history) expect(await bob.read(m)).toMatch(/^message \d+$/);
      const replay = await bob.events('0');
      const last = history.at(-1);
      await replay.nextOf('message', (d) => d.chatId === chatId && d.seq === last.seq);
      expect(replay.events.filter((e) => e.event === 'message' && e.json.chatId === chatId).length).toBe(
        history.length,
      );
      replay.close();
    } finally {
      again.child.kill('SIGTERM');
      await exited(again.child);
    }
  });
});
