import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatOf, onDatabase } from '../../support/chats.js';
import { cliEnv, cliOf } from '../../support/cli.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// protocol.md "Transcript integrity" in the terminal: a message the server dropped for everyone
// is said in its chat as a line no message looks like, kept across runs, and in --json as objects.

let server: TestServer;
let env: Record<string, string>;
beforeAll(async () => {
  server = await startServer({ SECURECHAT_HISTORY_LIMIT: '100000' });
  env = cliEnv(server.url, server.keysDir);
});
afterAll(() => server?.close());

const { cli } = cliOf(() => env);

describe('transcript warnings in the CLI', () => {
  it('a message dropped for everyone: "!! transcript: 1 message from alice is missing", kept across runs', async () => {
    const alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    const chatId = await chatOf(alice, bob);
    const send = async (text: string) => {
      const r = await cli('alice', '--chat', chatId, 'send', text);
      expect(r.code, r.stderr).toBe(0);
      return Number((r.stdout.match(/sent as #(\d+)/) as RegExpMatchArray)[1]);
    };
    await send('one');
    const first = await cli('bob', '--chat', chatId, 'history');
    expect(first.stdout).toMatch(/alice \(rsa\): one$/m);
    expect(first.stderr).not.toMatch(/transcript/);

    const dropped = await send('two');
    await onDatabase(server, 'DELETE FROM events WHERE chat_id = ? AND seq = ?', [chatId, dropped]);
    await onDatabase(server, 'DELETE FROM messages WHERE chat_id = ? AND seq = ?', [chatId, dropped]);
    await send('three');

    const after = await cli('bob', '--chat', chatId, 'history');
    expect(after.stdout).toMatch(/alice \(rsa\): three$/m);
    expect(after.stderr).toContain('!! transcript: 1 message from alice is missing');
    expect(after.stderr).toContain(`!! transcript: message #${dropped} was withheld from you`);
    // no warning line looks like a message line, and no message line holds a warning
    expect(after.stdout).not.toMatch(/transcript/);

    // a new run (a restarted CLI) still says it, and --json carries each warning as an object
    const json = await cli('bob', '--json', '--chat', chatId, 'history');
    const result = JSON.parse(json.stdout.split('\n').at(-1) as string);
    expect(result.warnings.map((w: { kind: string; text: string }) => [w.kind, w.text]).sort()).toEqual([
      ['missing', '1 message from alice is missing'],
      ['withheld', `message #${dropped} was withheld from you`],
    ]);
    expect(result.messages.map((m: { text: string }) => m.text)).toEqual(['one', 'three']);
  });
});
