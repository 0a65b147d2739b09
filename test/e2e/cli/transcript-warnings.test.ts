import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CliProcess } from '../../../scripts/child.js';
import type { MessageData } from '../../../src/client/index.js';
import { chatOf, onDatabase } from '../../support/chats.js';
import {
  alice,
  bob,
  carol,
  cli,
  env,
  readJson,
  server,
  useLyingServer,
  userFile,
  withRules,
} from '../../support/cli-proxy.js';
import { PASSWORD } from '../../support/helper.js';
import { editHistory, editStream, forUser } from '../../support/transcript.js';

// protocol.md "Transcript integrity" in the terminal: each attack of a compromised server (a
// change to its database, or the lying proxy of test/support in front of it, lying to one member)
// is said in its chat as a line no message looks like (`!! transcript: …` on stderr, never on
// stdout where messages are), kept across runs, and in --json as objects of their own.
useLyingServer();

const upstream = () => server.url;

/** A chat of alice, bob and carol, everyone joined. */
const chat = () => chatOf(alice, bob, carol);

/** `user` posts `text` with the CLI; its seq. */
async function send(user: string, chatId: string, text: string): Promise<number> {
  const r = await cli(user, '--chat', chatId, 'send', text);
  expect(r.code, r.stderr).toBe(0);
  return Number((r.stdout.match(/sent as #(\d+)/) as RegExpMatchArray)[1]);
}

const history = (user: string, chatId: string) => cli(user, '--chat', chatId, 'history');

/** The warnings of `history --json`, as [kind, text]. */
async function jsonWarnings(user: string, chatId: string): Promise<[string, string][]> {
  const r = await cli(user, '--json', '--chat', chatId, 'history');
  expect(r.code, r.stderr).toBe(0);
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
  return result.warnings.map((w: { kind: string; text: string }) => [w.kind, w.text]).sort();
}

/** The transcript lines of a run, each a whole line of stderr; stdout (the messages) has none. */
function warningLines(r: { stdout: string; stderr: string }): string[] {
  expect(r.stdout).not.toMatch(/^!!|transcript: (?!resolved)/m);
  return r.stderr.split('\n').filter((l) => l.includes('transcript'));
}

/** `listen --chat` of `user`, running, once connected. */
async function listening(user: string, chatId: string, ...flags: string[]): Promise<CliProcess> {
  const p = new CliProcess(['--user', user, '--password-stdin', ...flags, '--chat', chatId, 'listen'], env);
  p.send(PASSWORD);
  await p.waitFor(/^ERR \* connected$/);
  return p;
}

describe('transcript warnings in the CLI', { timeout: 300_000 }, () => {
  it('a message dropped for everyone: "!! transcript: 1 message from alice is missing", kept across runs', async () => {
    const chatId = await chatOf(alice, bob);
    await send('alice', chatId, 'one');
    const first = await history('bob', chatId);
    expect(first.stdout).toMatch(/alice \(rsa\): one$/m);
    expect(first.stderr).not.toMatch(/transcript/);

    const dropped = await send('alice', chatId, 'two');
    await onDatabase(server, 'DELETE FROM events WHERE chat_id = ? AND seq = ?', [chatId, dropped]);
    await onDatabase(server, 'DELETE FROM messages WHERE chat_id = ? AND seq = ?', [chatId, dropped]);
    await send('alice', chatId, 'three');

    const after = await history('bob', chatId);
    expect(after.stdout).toMatch(/alice \(rsa\): three$/m);
    expect(warningLines(after).sort()).toEqual([
      '!! transcript: 1 message from alice is missing',
      `!! transcript: message #${dropped} was withheld from you`,
    ]);

    // a new run (a restarted CLI) still says it, and --json carries each warning as an object
    const json = await cli('bob', '--json', '--chat', chatId, 'history');
    const result = JSON.parse(json.stdout.split('\n').at(-1) as string);
    expect(result.warnings.map((w: { kind: string; text: string }) => [w.kind, w.text]).sort()).toEqual([
      ['missing', '1 message from alice is missing'],
      ['withheld', `message #${dropped} was withheld from you`],
    ]);
    expect(result.messages.map((m: { text: string }) => m.text)).toEqual(['one', 'three']);
  });

  it('a message withheld from one member\'s history: "!! transcript: message #n was withheld from you", resolved when it arrives', async () => {
    const chatId = await chat();
    await send('alice', chatId, 'one');
    const secret = await send('bob', chatId, 'for everyone but carol');
    const hide = forUser(
      'carol',
      editHistory(upstream(), (ms) => ms.filter((m) => m.seq !== secret)),
    );
    await withRules([hide], async () => {
      // the newest can be withheld unseen
      expect(warningLines(await history('carol', chatId))).toEqual([]);
      await send('alice', chatId, 'later');
      const r = await history('carol', chatId);
      expect(r.stdout).toMatch(/alice \(rsa\): later$/m);
      expect(r.stdout).not.toContain('for everyone but carol');
      expect(warningLines(r)).toEqual([`!! transcript: message #${secret} was withheld from you`]);
      expect(await jsonWarnings('carol', chatId)).toEqual([
        ['withheld', `message #${secret} was withheld from you`],
      ]);
    });
    // the others were shown it: no warning
    expect(warningLines(await history('bob', chatId))).toEqual([]);
    // it arrives after all: resolved, said once, and gone from the next run
    const arrived = await history('carol', chatId);
    expect(arrived.stdout).toMatch(/bob \(rsa\): for everyone but carol$/m);
    expect(arrived.stdout).toContain(`* transcript: resolved: message #${secret} was withheld from you`);
    expect(warningLines(arrived)).toEqual([]);
    expect(await jsonWarnings('carol', chatId)).toEqual([]);
  });

  it('a message withheld from one member\'s stream and history: `listen` says "!! transcript: message #2 was withheld from you", --json a warning object', async () => {
    const chatId = await chat();
    const hide = [
      forUser(
        'carol',
        editStream(upstream(), (d) => d.chatId === chatId && d.seq === 2),
      ),
      forUser(
        'carol',
        editHistory(upstream(), (ms) => ms.filter((m) => m.seq !== 2)),
      ),
    ];
    await withRules(hide, async () => {
      const plain = await listening('carol', chatId);
      const json = await listening('carol', chatId, '--json');
      try {
        await send('alice', chatId, 'one');
        await plain.waitFor(/alice \(rsa\): one$/);
        await send('bob', chatId, 'for everyone but carol');
        await send('alice', chatId, 'later');
        expect(await plain.waitFor(/transcript/)).toBe('ERR !! transcript: message #2 was withheld from you');
        expect(JSON.parse(await json.waitFor(/"warning"/))).toEqual({
          warning: {
            status: 'open',
            chatId,
            kind: 'withheld',
            text: 'message #2 was withheld from you',
            seq: 2,
            sender: null,
          },
        });
        await expect.poll(() => plain.lines.some((l) => /alice \(rsa\): later$/.test(l))).toBe(true);
        // the warning is its own line, on stderr; no message line of stdout says it or the withheld text
        expect(plain.lines.filter((l) => !l.startsWith('ERR ') && /transcript|for everyone/.test(l))).toEqual(
          [],
        );
      } finally {
        plain.kill();
        json.kill();
      }
    });
  });

  it('a fork: carol shown two messages the other way round → "!! transcript: bob saw a different message #n"', async () => {
    const chatId = await chat();
    const x = await send('alice', chatId, 'x');
    const y = await send('alice', chatId, 'y');
    expect(warningLines(await history('bob', chatId))).toEqual([]);
    await send('bob', chatId, 'after y'); // prev: #y as bob saw it
    const swap = (ms: MessageData[]) =>
      ms
        .map((m) => (m.seq === x ? { ...m, seq: y } : m.seq === y ? { ...m, seq: x } : m))
        .sort((a, b) => a.seq - b.seq);
    const fork = `bob saw a different message #${y} than you did: the server showed you different histories`;
    await withRules([forUser('carol', editHistory(upstream(), swap))], async () => {
      const r = await history('carol', chatId);
      expect(r.stdout).toMatch(/bob \(rsa\): after y$/m);
      expect(warningLines(r)).toEqual([`!! transcript: ${fork}`]);
      expect(await jsonWarnings('carol', chatId)).toEqual([['fork', fork]]);
    });
  });

  it('a counter repeated on another message id (alice\'s state restored from a backup) → "!! transcript: alice\'s device sent two messages numbered 2"', async () => {
    const chatId = await chat();
    await send('alice', chatId, 'one');
    const state = userFile('alice', 'state.json');
    const backup = (await readJson(state)).transcript;
    await send('alice', chatId, 'two');
    // the backup put back: alice's device numbers its next message 2 again
    await writeFile(state, JSON.stringify({ ...(await readJson(state)), transcript: backup }));
    await send('alice', chatId, 'three');
    const repeat = "alice's device sent two messages numbered 2";
    const r = await history('bob', chatId);
    expect(r.stdout).toMatch(/alice \(rsa\): three$/m);
    expect(warningLines(r)).toEqual([`!! transcript: ${repeat}`]);
    expect(await jsonWarnings('bob', chatId)).toEqual([['repeat', repeat]]);
  });

  it('a prev pointing past the newest message (messages renumbered for carol) → "!! transcript: bob saw a different message #3"', async () => {
    const chatId = await chat();
    for (const t of ['1', '2', '3']) await send('alice', chatId, t);
    expect(warningLines(await history('bob', chatId))).toEqual([]);
    const z = await send('bob', chatId, 'z'); // seq 4, prev #3
    const renumber = (ms: MessageData[]) =>
      ms.filter((m) => m.seq !== 2 && m.seq !== 3).map((m) => (m.seq === z ? { ...m, seq: 2 } : m));
    const fork = 'bob saw a different message #3 than you did: the server showed you different histories';
    await withRules([forUser('carol', editHistory(upstream(), renumber))], async () => {
      const r = await history('carol', chatId);
      expect(r.stdout).toMatch(/bob \(rsa\): z$/m);
      expect(warningLines(r)).toEqual([`!! transcript: ${fork}`]);
      expect(await jsonWarnings('carol', chatId)).toEqual([['fork', fork]]);
    });
  });

  it('a version-2 message re-sent without its fields: its signature fails, it is refused, never shown as a version-1 message', async () => {
    const chatId = await chat();
    const seq = await send('alice', chatId, 'signed with its fields');
    const strip = (ms: MessageData[]) =>
      ms.map((m) => {
        const { device: _d, counter: _c, prev: _p, ...v1 } = m.message;
        return { ...m, message: v1 };
      });
    await withRules([forUser('carol', editHistory(upstream(), strip))], async () => {
      const r = await history('carol', chatId);
      expect(r.stdout).not.toContain('signed with its fields');
      expect(r.stdout).not.toMatch(/not covered/);
      expect(r.stderr).toMatch(
        new RegExp(
          `^!! REJECTED message #${seq} claiming to be from alice: .*signature does not verify`,
          'm',
        ),
      );
      const json = await cli('carol', '--json', '--chat', chatId, 'history');
      const result = JSON.parse(json.stdout.trim().split('\n').at(-1) as string);
      expect(result.messages).toEqual([expect.objectContaining({ seq, verified: false, text: null })]);
      expect(result.warnings).toEqual([]);
    });
  });
});
