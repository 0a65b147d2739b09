import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_HISTORY_PAGES } from '../../../cli/commands/messages.js';
import { CliProcess } from '../../../scripts/child.js';
import { chatOf } from '../../support/chats.js';
import {
  alice,
  answer,
  bob,
  cli,
  env,
  envelopeOf,
  menu,
  proxy,
  type Rule,
  server,
  useLyingServer,
  withRules,
} from '../../support/cli-proxy.js';
import { PASSWORD } from '../../support/helper.js';

// The CLI's checks against a lying server (the review of the CLI, tests A1–A11, and its race
// scripts): each attack, against the real CLI over real HTTP through a proxy that lies
// (test/support/cli-proxy.ts), and refused.
useLyingServer();

describe('a message or an answer replayed from elsewhere is refused (A4, A5, A10)', () => {
  it('listen --chat A --json ignores chat B\u2019s message and prints checked fields only (A4)', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    const listen = new CliProcess(
      ['--user', 'bob', '--password-stdin', '--json', '--chat', a, 'listen'],
      env,
    );
    listen.send(PASSWORD);
    try {
      await listen.waitFor(/^ERR \* connected$/);
      const inB = await alice.send(b, 1, 'said in chat B only', 'ed25519');
      await server.app.fanout.publish({
        kind: 'event',
        type: 'message',
        to: ['bob'],
        data: JSON.stringify({
          chatId: b,
          chat: { id: a },
          seq: inB.res.body.seq,
          sender: 'alice',
          receivedAt: inB.res.body.receivedAt,
          message: inB.body,
        }),
      });
      const inA = await alice.send(a, 1, 'said in chat A', 'ed25519');
      const line = JSON.parse(await listen.waitFor(/"event":"message"/));
      expect(line.data).toEqual({
        chatId: a,
        seq: inA.res.body.seq,
        sender: 'alice',
        receivedAt: inA.res.body.receivedAt,
        message: { id: inA.body.id, epoch: 1, sentAt: inA.body.sentAt, signatureAlgorithm: 'ed25519' },
        text: 'said in chat A',
        verified: true,
      });
      expect(listen.lines.some((l) => l.includes(b))).toBe(false);
    } finally {
      listen.kill();
    }
  });

  it('a message history showed is not shown again by the live stream (A5)', async () => {
    const a = await chatOf(alice, bob);
    const sent = await alice.send(a, 1, 'shown once?', 'ed25519');
    const c = menu('bob');
    try {
      await c.waitFor(/\* connected$/);
      c.send(`switch ${a}`);
      await c.waitFor(/now in chat/);
      c.send('history');
      await c.waitFor(/alice \(ed25519\): shown once\?$/);
      await server.app.fanout.publish({
        kind: 'event',
        type: 'message',
        to: ['bob'],
        data: JSON.stringify({
          chatId: a,
          seq: sent.res.body.seq,
          sender: 'alice',
          receivedAt: sent.res.body.receivedAt,
          message: sent.body,
        }),
      });
      await c.waitFor(
        /REJECTED message #1 claiming to be from alice: message [0-9a-f-]{36} was already shown/,
      );
      expect(c.lines.filter((l) => l.endsWith('alice (ed25519): shown once?'))).toHaveLength(1);
    } finally {
      c.send('quit');
      await c.exited;
    }
  });

  it('a replayed POST /chats answer (an existing chat) is refused and nothing is sent to it (A10)', async () => {
    const made = await cli('bob', '--json', 'chat', 'alice', 'carol');
    expect(made.code, made.stderr).toBe(0);
    const x = JSON.parse(made.stdout).chat;
    const shownMembers = x.members.filter((m: { username: string }) => m.username !== 'carol');
    const replay = answer('POST', '/chats', 201, {
      chat: { ...x, members: shownMembers },
      keyEnvelope: await envelopeOf(bob, x.id),
      unavailable: [],
    });
    await proxy.with([replay], async () => {
      const r = await cli('bob', 'chat', 'alice');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(
        /^securechat: WARNING: the server answered with chat [0-9a-f]{8} .*not a chat just created by you/,
      );
      const j = await cli('bob', '--json', 'chat', 'alice');
      expect(j.code).not.toBe(0);
      expect(j.stdout).toBe('');
    });
    // a fresh chat at a later epoch, or one created by another, is refused too
    const later = answer('POST', '/chats', 201, {
      chat: { ...x, id: randomUUID(), epoch: 2 },
      keyEnvelope: await envelopeOf(bob, x.id),
      unavailable: [],
    });
    await proxy.with([later], async () => {
      expect((await cli('bob', 'chat', 'alice')).stderr).toMatch(/epoch 2, created by bob/);
    });
  });

  it('history stops following a server that answers full pages with a rising seq forever', async () => {
    const a = await chatOf(alice, bob);
    const sent = await alice.send(a, 1, 'the only one', 'ed25519');
    let pages = 0;
    const endless: Rule = (req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== `/chats/${a}/messages`) return false;
      const after = Number(new URL(req.url, 'http://x').searchParams.get('after'));
      pages++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          messages: [
            {
              chatId: a,
              seq: after + 1,
              sender: 'alice',
              receivedAt: sent.res.body.receivedAt,
              message: sent.body,
            },
          ],
        }),
      );
      return true;
    };
    await proxy.with([endless], async () => {
      const r = await cli('bob', '--chat', a, '--limit', '1', 'history');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/the server sent 1000 pages of history and more/);
    });
    expect(pages).toBe(MAX_HISTORY_PAGES);
  }, 120_000);
});

describe('another chat\u2019s messages are refused, and a repeated one is shown once (finding 6)', () => {
  it('history refuses another chat\u2019s messages and shows a repeated id once (plain and --json)', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    expect((await alice.send(a, 1, 'in A', 'ed25519')).res.status).toBe(201);
    expect((await alice.send(b, 1, 'in B, shown as A?', 'ed25519')).res.status).toBe(201);
    const inA = (await alice.api.call('listMessages', { params: { chatId: a } })).body.messages;
    const inB = (await alice.api.call('listMessages', { params: { chatId: b } })).body.messages;
    const rule = answer('GET', `/chats/${a}/messages`, 200, { messages: [...inA, ...inB, ...inA] });
    await withRules([rule], async () => {
      const json = await cli('bob', '--json', '--chat', a, 'history');
      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout).messages.map((m: { text: string }) => m.text)).toEqual(['in A']);
      expect(json.stderr).toMatch(
        new RegExp(
          `REJECTED message #1 claiming to be from alice: it belongs to chat ${b.slice(0, 8)}, not to chat ${a.slice(0, 8)}`,
        ),
      );
      expect(json.stderr).toMatch(
        /REJECTED message #1 claiming to be from alice: message [0-9a-f-]{36} was already shown/,
      );
      const plain = await cli('bob', '--chat', a, 'history');
      expect(plain.stdout.split('\n').filter((l) => l.includes(': in '))).toHaveLength(1);
      expect(plain.stdout).not.toContain('in B');
    });
  });

  it('the live stream and listen --json show each (chat, id) once and only the chat asked for', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    const listen = new CliProcess(
      ['--user', 'bob', '--password-stdin', '--json', '--chat', a, 'listen'],
      env,
    );
    listen.send(PASSWORD);
    const c = menu('bob');
    try {
      await listen.waitFor(/^ERR \* connected$/);
      await c.waitFor(/\* connected$/);
      const once = await alice.send(a, 1, 'once', 'rsa-pss-sha256');
      const inB = await alice.send(b, 1, 'of chat B', 'rsa-pss-sha256');
      const data = {
        chatId: a,
        seq: once.res.body.seq,
        sender: 'alice',
        receivedAt: once.res.body.receivedAt,
        message: once.body,
      };
      // the server (or a replay) delivers the same message again
      await server.app.fanout.publish({
        kind: 'event',
        type: 'message',
        to: ['bob'],
        data: JSON.stringify(data),
      });
      await alice.send(a, 1, 'last', 'rsa-pss-sha256');
      await c.waitFor(/alice \(rsa\): once$/);
      await c.waitFor(/alice \(rsa\): last$/);
      // stderr is another pipe: a command answered on stderr after "last" has it all in
      // (a command, not a word: with a chat open, as the menu may reopen the last one, a word is a message)
      c.send('switch ffffffff');
      await c.waitFor(/^ERR !! no chat ffffffff among yours/);
      expect(
        c.lines.filter((l) =>
          /REJECTED message #1 claiming to be from alice: message [0-9a-f-]{36} was already shown/.test(l),
        ),
      ).toHaveLength(1);
      expect(c.lines.filter((l) => l.endsWith('alice (rsa): once'))).toHaveLength(1);
      await listen.waitFor(/"seq":2/);
      const events = listen.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      const messages = events.filter((e) => e.event === 'message');
      expect(messages.map((e) => [e.data.chatId, e.data.message.id])).toEqual([
        [a, once.body.id],
        [a, messages[1].data.message.id],
      ]);
      expect(events.some((e) => e.data.message?.id === inB.body.id)).toBe(false);
    } finally {
      listen.kill();
      c.send('quit');
      await c.exited;
    }
  });
});
