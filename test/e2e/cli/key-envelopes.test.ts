import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chatOf } from '../../support/chats.js';
import {
  alice,
  answer,
  bob,
  cli,
  envelopeOf,
  menu,
  oneLine,
  problem,
  proxy,
  server,
  useLyingServer,
  withRules,
} from '../../support/cli-proxy.js';

// The CLI against a server that serves genuinely server-signed but wrong data: a proxy in front of
// the real server answers chosen requests itself and passes everything else through, event stream
// included (test/support/cli-proxy.ts).
useLyingServer();

async function stateOf(user: string) {
  return JSON.parse(await readFile(path.join(server.keysDir, 'users', user, 'state.json'), 'utf8'));
}

describe('key envelopes are bound to their chat and never roll back (finding 1)', () => {
  it('refuses, for chat A, the genuine envelope of chat B, and sends nothing', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    const rule = answer('GET', `/chats/${a}/key`, 200, await envelopeOf(bob, b));
    await withRules([rule], async () => {
      const r = await cli('bob', '--chat', a, 'send', 'for chat A only');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `WARNING: key envelope refused: it is for chat ${b.slice(0, 8)}, not chat ${a.slice(0, 8)}`,
      );
      oneLine(r.stderr);
    });
    const history = await alice.api.call('listMessages', { params: { chatId: a } });
    expect(history.body.messages).toEqual([]);
  });

  it('refuses an older epoch after a restart, and a STALE_EPOCH that disagrees with the envelope', async () => {
    const a = await chatOf(alice, bob);
    const old = await envelopeOf(bob, a);
    expect(old.epoch).toBe(1);
    await alice.api.call('inviteToChat', { params: { chatId: a }, body: { invitees: ['carol'] } });
    // one real send: bob's client sees epoch 2 and keeps it on disk
    const first = await cli('bob', '--chat', a, 'send', 'at epoch 2');
    expect(first.code, first.stderr).toBe(0);
    expect((await stateOf('bob')).epochs[a]).toBe(2);

    // A replay, in a new process: "your epoch is stale, the key is (the genuine, old) epoch 1".
    const stale = answer(
      'POST',
      `/chats/${a}/messages`,
      409,
      problem(409, 'STALE_EPOCH', 'The chat is at epoch 1; re-encrypt under its current key.'),
    );
    const key = answer('GET', `/chats/${a}/key`, 200, old);
    proxy.rules.push(stale, key);
    try {
      const r = await cli('bob', '--chat', a, 'send', 'under a rolled-back key?');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `WARNING: key envelope refused: chat ${a.slice(0, 8)}: epoch 1 is older than epoch 2, already seen`,
      );
      oneLine(r.stderr);
      // The answer names epoch 3; the envelope served as current is epoch 2, older than that.
      proxy.rules.splice(0, proxy.rules.length);
      proxy.rules.push(
        answer(
          'POST',
          `/chats/${a}/messages`,
          409,
          problem(409, 'STALE_EPOCH', 'The chat is at epoch 3; re-encrypt under its current key.'),
        ),
      );
      const r2 = await cli('bob', '--chat', a, 'send', 'again');
      expect(r2.code).toBe(1);
      expect(r2.stderr).toContain(
        `chat ${a.slice(0, 8)}: the server named epoch 3, the envelope is of epoch 2`,
      );
      oneLine(r2.stderr);
    } finally {
      proxy.rules.splice(0, proxy.rules.length);
    }
    const history = await alice.api.call('listMessages', { params: { chatId: a } });
    expect(history.body.messages.map((m: { message: { epoch: number } }) => m.message.epoch)).toEqual([2]);
  });

  it('refuses a chat.key event whose envelope is for another chat, or older than one seen', async () => {
    const a = await chatOf(alice, bob);
    const b = await chatOf(alice, bob);
    const envB = await envelopeOf(bob, b);
    const old = await envelopeOf(bob, a);
    const c = menu('bob');
    try {
      await c.waitFor(/\* connected$/);
      c.send(`switch ${a.slice(0, 8)}`);
      await c.waitFor(/now in chat/);
      const publish = (data: unknown) =>
        server.app.fanout.publish({
          kind: 'event',
          type: 'chat.key',
          to: ['bob'],
          data: JSON.stringify(data),
        });
      await publish({ chatId: a, keyEnvelope: envB });
      await c.waitFor(
        new RegExp(
          `^ERR !! chat.key event refused: WARNING: key envelope refused: it is for chat ${b.slice(0, 8)}, not chat ${a.slice(0, 8)}$`,
        ),
      );
      // the key of A is still A's: a message to A is sent and read under it
      c.send('still under the right key');
      await c.waitFor(/bob \(rsa\): still under the right key$/);
      await alice.api.call('inviteToChat', { params: { chatId: a }, body: { invitees: ['carol'] } });
      await c.waitFor(/the chat key rotated \(epoch 2\)$/);
      expect(old.epoch).toBe(1);
      await publish({ chatId: a, keyEnvelope: old });
      await c.waitFor(/chat.key event refused: .*epoch 1 is older than epoch 2, already seen/);
    } finally {
      c.send('quit');
      await c.exited;
    }
  });
});
