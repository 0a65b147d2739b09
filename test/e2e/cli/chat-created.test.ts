import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, cliOf } from '../../support/cli.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer, type TestServer } from '../../support/helper.js';

// The terminal lists new chats live: one this user started elsewhere (another terminal, the
// page, curl) is said when its `chat.created` arrives; its own `chat` is said once, by the command.

let server: TestServer;
let env: Record<string, string>;
beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '60000' });
  env = cliEnv(server.url, server.keysDir);
});
afterAll(() => server?.close());

const { menu } = cliOf(() => env);

describe('the menu lists chats made elsewhere', () => {
  it('says a chat this user started elsewhere, and not its own twice', async () => {
    const alice = menu('alice');
    try {
      await alice.waitFor(/\* connected$/);
      alice.send('chat bob');
      await alice.waitFor(/^started chat [0-9a-f]{8} \(bob \(invited\); epoch 1\)/);
      await alice.waitFor(/^invited — bob is offline and will see it when they connect$/);

      const elsewhere = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
      const res = await elsewhere.api.call('createChat', { body: { invitees: ['carol'] } });
      const short = res.body.chat.id.slice(0, 8);
      await alice.waitFor(
        new RegExp(`^\\* you started chat ${short} \\(carol \\(invited\\); epoch 1\\).* elsewhere$`),
      );
      // its own chat came as chat.created too, before this one: not said again
      expect(alice.lines.filter((l) => l.includes('elsewhere'))).toHaveLength(1);
      alice.send('chats');
      await alice.waitFor(new RegExp(`^  ${short} \\(carol \\(invited\\)`));
    } finally {
      alice.send('quit');
      await alice.exited;
    }
  });
});
