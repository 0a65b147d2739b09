import { describe, expect, it } from 'vitest';
import { Api } from '../../support/client.js';
import { withServer } from '../../support/helper.js';

describe('client addresses from a trusted proxy, over HTTP (accounts review, finding 11)', () => {
  it('count an address with a port as the address, and refuse one that is not an IP address (400)', async () => {
    await withServer(
      { SECURECHAT_TRUST_PROXY: 'loopback', SECURECHAT_LOGIN_FAILURES_PER_USER_IP: '2' },
      async (server) => {
        const api = new Api(server.url);
        const login = (from: string) =>
          api.call('login', {
            body: { username: 'alice', password: 'a wrong guess' },
            headers: { 'x-forwarded-for': from },
          });
        expect((await login('192.0.2.1:5555')).status).toBe(401);
        expect((await login('192.0.2.1:6666')).status).toBe(401);
        expect((await login('192.0.2.1')).status).toBe(429);
        const garbage = await login('not an address');
        expect(garbage.status).toBe(400);
        expect(garbage.body.detail).toMatch(/not an IP address/);
      },
    );
  });
});
