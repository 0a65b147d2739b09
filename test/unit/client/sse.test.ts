import { describe, expect, it } from 'vitest';
import { Api, type FeedEvent, follow, readBlocks, type SseBlock } from '../../../src/client/index.js';

const bytes = (text: string) => new TextEncoder().encode(text);

async function* chunks(...parts: Uint8Array[]) {
  for (const p of parts) yield p;
}

describe('the SSE reader', () => {
  it('joins events split across chunks, even inside a UTF-8 character and between the two line feeds', async () => {
    const whole = bytes(
      'id: 1\nevent: message\ndata: {"text":"h\u00e9\u20ac"}\n\n: ping\n\nevent: presence\r\ndata: {}\r\n\r\n',
    );
    const at = whole.indexOf(0xe2) + 1; // inside the euro sign
    const blank = whole.indexOf(10, whole.indexOf(0x7d)) + 1; // between the two line feeds
    const got: SseBlock[] = [];
    await readBlocks(
      chunks(whole.slice(0, at), whole.slice(at, blank), whole.slice(blank)),
      (b) => void got.push(b),
    );
    expect(got).toEqual([
      { id: '1', event: 'message', data: '{"text":"h\u00e9\u20ac"}' },
      { comment: 'ping' },
      { event: 'presence', data: '{}' },
    ]);
  });

  it('cuts an event longer than its bound instead of growing without limit', async () => {
    const got: SseBlock[] = [];
    const endless = chunks(bytes('data: '), ...Array.from({ length: 5 }, () => bytes('x'.repeat(1000))));
    await expect(readBlocks(endless, (b) => void got.push(b), 4096)).rejects.toThrow(
      /event longer than 4096 characters/,
    );
    expect(got).toEqual([]);
  });

  it('resumes with Last-Event-ID after the stream closes, and stops on abort', async () => {
    const asked: (string | null)[] = [];
    const abort = new AbortController();
    const streams = [
      'id: 1\nevent: message\ndata: {"n":1}\n\nid: 2\nevent: message\ndata: {"n":2}\n\n',
      'id: 3\nevent: message\ndata: {"n":3}\n\n',
    ];
    const api = new Api({
      server: 'http://chat.test',
      fetch: async () => {
        throw new Error('no calls expected');
      },
      streamFetch: async (_url, init) => {
        asked.push(new Headers(init.headers).get('last-event-id'));
        const text = streams.shift();
        if (text === undefined) return new Response(new ReadableStream({}), { status: 200 }); // stays open
        return new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream' } });
      },
    });
    const seen: FeedEvent[] = [];
    await follow(
      api,
      {
        onEvent: (e) => {
          seen.push(e);
          if (e.id === '3') abort.abort();
        },
      },
      abort.signal,
      { lastEventId: '0' },
    );
    expect(seen.map((e) => e.data.n)).toEqual([1, 2, 3]);
    expect(asked).toEqual(['0', '2']);
  });

  it('ends with the error when the token is refused (401), without retrying', async () => {
    let calls = 0;
    const api = new Api({
      server: 'http://chat.test',
      streamFetch: async () => {
        calls++;
        return new Response(JSON.stringify({ code: 'UNAUTHENTICATED', detail: 'token expired' }), {
          status: 401,
        });
      },
    });
    await expect(follow(api, { onEvent: () => {} }, new AbortController().signal)).rejects.toMatchObject({
      status: 401,
      code: 'UNAUTHENTICATED',
      detail: 'token expired',
    });
    expect(calls).toBe(1);
  });
});

describe('the API caller', () => {
  it('surfaces problem+json as a typed error with status, code, detail and Retry-After', async () => {
    const api = new Api({
      server: 'http://chat.test/ignored/path',
      fetch: async (url) => {
        expect(url).toBe('http://chat.test/auth/login');
        return new Response(JSON.stringify({ code: 'RATE_LIMITED', detail: 'slow down', status: 429 }), {
          status: 429,
          headers: { 'retry-after': '7', 'content-type': 'application/problem+json' },
        });
      },
    });
    await expect(api.call('POST', '/auth/login', {})).rejects.toMatchObject({
      status: 429,
      code: 'RATE_LIMITED',
      detail: 'slow down',
      retryAfter: 7,
    });
    await expect(api.login('a', 'b')).rejects.toThrow('login refused: too many attempts; try again in 7 s');
  });
});
