import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig } from '../../../src/config.js';
import { Participant } from '../../support/client.js';
import { PASSWORD, startServer } from '../../support/helper.js';

/** GET /events: the status, the headers and (when refused) the problem; `close` ends a stream. */
async function openStream(url: string, token: string) {
  const abort = new AbortController();
  const res = await request(`${url}/events`, {
    headers: { authorization: `Bearer ${token}` },
    bodyTimeout: 0,
    signal: abort.signal,
  });
  const problem = res.statusCode === 200 ? undefined : ((await res.body.json()) as { code: string });
  if (res.statusCode === 200) res.body.on('error', () => {});
  return { status: res.statusCode, headers: res.headers, problem, close: () => abort.abort() };
}

describe('opening event streams', () => {
  it('concurrent opens cannot pass the per-user cap', async () => {
    const server = await startServer({ SECURECHAT_MAX_STREAMS: '3' });
    try {
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      // Every open that got past the cap waits (as for a slow presence update) until each of the
      // twelve has either got that far or been answered: all of them are in flight at once.
      const presence = server.app.presence;
      const streamOpened = presence.streamOpened;
      let waiting = 0;
      let answered = 0;
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const check = () => waiting + answered === 12 && release();
      presence.streamOpened = async (...args) => {
        waiting += 1;
        check();
        await released;
        return streamOpened(...args);
      };
      const opens = await Promise.all(
        Array.from({ length: 12 }, async () => {
          const o = await openStream(server.url, String(bob.api.token));
          if (o.status !== 200) answered += 1;
          check();
          return o;
        }),
      );
      presence.streamOpened = streamOpened;
      const open = opens.filter((o) => o.status === 200);
      expect(open).toHaveLength(3);
      for (const refused of opens.filter((o) => o.status !== 200)) {
        expect(refused.status).toBe(429);
        expect(refused.problem?.code).toBe('TOO_MANY_STREAMS');
      }
      expect(server.app.hub.count('bob')).toBe(3);
      for (const o of open) o.close();
    } finally {
      await server.close();
    }
  });

  it('a user may open SECURECHAT_STREAM_OPEN_LIMIT streams a minute, then gets 429 with Retry-After', async () => {
    const server = await startServer({ SECURECHAT_STREAM_OPEN_LIMIT: '3' });
    try {
      const bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
      const carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
      for (let i = 0; i < 3; i++) {
        const o = await openStream(server.url, String(bob.api.token));
        expect(o.status).toBe(200);
        o.close();
      }
      const refused = await openStream(server.url, String(bob.api.token));
      expect(refused.status).toBe(429);
      expect(refused.problem?.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
      // per user: carol is not held back by bob
      const other = await openStream(server.url, String(carol.api.token));
      expect(other.status).toBe(200);
      other.close();
    } finally {
      await server.close();
    }
  });

  it('takes its limits from the environment, and names a bad value in one line', () => {
    const config = loadConfig({ SECURECHAT_STREAM_OPEN_LIMIT: '7', SECURECHAT_STREAM_DRAIN_MS: '500' });
    expect([config.streamOpensPerMinute, config.streamDrainMs]).toEqual([7, 500]);
    expect(loadConfig({}).streamOpensPerMinute).toBe(60);
    expect(loadConfig({}).streamDrainMs).toBe(30_000);
    let problems: string[] = [];
    try {
      loadConfig({ SECURECHAT_STREAM_OPEN_LIMIT: '0', SECURECHAT_STREAM_DRAIN_MS: 'soon' });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^SECURECHAT_STREAM_OPEN_LIMIT=/);
    expect(problems[1]).toMatch(/^SECURECHAT_STREAM_DRAIN_MS=/);
  });
});
