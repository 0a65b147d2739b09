import { describe, expect, it } from 'vitest';
import { Api, ApiError } from '../../../src/client/index.js';

/** A fetch that answers from a list, and counts the requests it was sent. */
function scripted(...answers: { status: number; headers?: Record<string, string>; body?: unknown }[]) {
  const sent: string[] = [];
  const fetch = async (url: string, init: RequestInit) => {
    sent.push(`${init.method} ${new URL(url).pathname}`);
    const next = answers[Math.min(sent.length - 1, answers.length - 1)];
    const type = next.status >= 400 ? 'application/problem+json' : 'application/json';
    return new Response(JSON.stringify(next.body ?? {}), {
      status: next.status,
      headers: { 'content-type': type, ...next.headers },
    });
  };
  return { sent, api: new Api({ server: 'http://chat.test', fetch }) };
}

const unavailable = (retryAfter?: string) => ({
  status: 503,
  headers: (retryAfter === undefined ? {} : { 'retry-after': retryAfter }) as Record<string, string>,
  body: { code: 'UNAVAILABLE', detail: 'The server is shutting down; try again in a moment.' },
});

describe('the library sends a request again after a 503 with Retry-After', () => {
  it('a post answered 503 with Retry-After by an instance shutting down is sent again, and its 201 returned', async () => {
    const { sent, api } = scripted(unavailable('0'), { status: 201, body: { seq: 7, receivedAt: 'now' } });
    expect(await api.postMessage('c', {} as never)).toEqual({ seq: 7, receivedAt: 'now' });
    expect(sent).toEqual(['POST /chats/c/messages', 'POST /chats/c/messages']);
  });

  it('gives up after three retries, and a 503 without Retry-After (or asking too long a wait) at once', async () => {
    const always = scripted(unavailable('0'));
    await expect(always.api.getHealth()).rejects.toMatchObject({ status: 503, code: 'UNAVAILABLE' });
    expect(always.sent).toHaveLength(4);
    for (const header of [undefined, '60', 'soon']) {
      const once = scripted(unavailable(header));
      await expect(once.api.getHealth()).rejects.toBeInstanceOf(ApiError);
      expect(once.sent).toHaveLength(1);
    }
    // other statuses are the caller's to handle
    const busy = scripted({ status: 429, headers: { 'retry-after': '0' }, body: { code: 'RATE_LIMITED' } });
    await expect(busy.api.getHealth()).rejects.toMatchObject({ status: 429 });
    expect(busy.sent).toHaveLength(1);
  });
});
