import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, cliOf } from '../../support/cli.js';
import { startServer, type TestServer } from '../../support/helper.js';

// An outage is two lines in the menu, however many retries it takes: one when the connection
// drops, one when it is back; and the menu's current chat is kept across a new login.

let server: TestServer;
let env: Record<string, string>;
beforeAll(async () => {
  server = await startServer({ PRESENCE_GRACE_MS: '60000' });
  env = cliEnv(server.url, server.keysDir);
});
afterAll(() => server?.close());

const { menu } = cliOf(() => env);

describe('the menu through an outage', { timeout: 120_000 }, () => {
  it('says the drop once and the return once, and keeps the current chat across a new login', async () => {
    const alice = menu('alice');
    await alice.waitFor(/\* connected$/);
    alice.send('chat bob');
    const started = await alice.waitFor(/^started chat ([0-9a-f]{8})/);
    const short = started.slice('started chat '.length, 'started chat '.length + 8);

    // the server goes away; its port refuses every attempt until the CLI has retried three times
    const port = Number(new URL(server.url).port);
    await server.app.close();
    await alice.waitFor(/\* connection lost \(.*\); reconnecting$/);
    let attempts = 0;
    let onAttempt = () => {};
    const holder = net.createServer((socket) => {
      socket.destroy();
      attempts++;
      onAttempt();
    });
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => {
      onAttempt = () => attempts >= 3 && resolve();
    });
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    server = await server.restart();
    await alice.waitFor(/\* connected$/);
    const noise = alice.lines.filter((l) => /connection lost|retrying|reconnecting/.test(l));
    expect(noise).toHaveLength(1);
    expect(alice.lines.filter((l) => /\* connected$/.test(l))).toHaveLength(2);

    alice.send('quit');
    expect(await alice.exited).toBe(0);
    // a new login carries on in the chat it was in
    const again = menu('alice');
    try {
      await again.waitFor(new RegExp(`^back in chat ${short}$`));
      again.send('still here');
      await again.waitFor(/alice \(rsa\): still here$/);
    } finally {
      again.send('quit');
      await again.exited;
    }
  });
});
