import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { frame, SseConnection } from '../../../src/sse/connection.js';

/** A response that records what is written to it and how (corked, in one tick). */
function fakeResponse() {
  const writes: (string | Buffer)[] = [];
  let corks = 0;
  const uncorked: number[] = [];
  const res = {
    writableLength: 0,
    cork: () => {
      corks += 1;
    },
    uncork: () => {
      uncorked.push(writes.length);
    },
    write: (chunk: string | Buffer) => {
      writes.push(chunk);
      return true;
    },
  };
  return { res: res as unknown as ServerResponse, writes, corks: () => corks, uncorked };
}

const open = (res: ServerResponse) => {
  const connection = new SseConnection(
    { username: 'bob', sessionId: 's', expiresAt: Number.MAX_SAFE_INTEGER },
    res,
    { bufferBytes: 1 << 20, drainMs: 1000 },
    () => {},
  );
  connection.goLive();
  return connection;
};

describe('an event written to many streams', () => {
  it('is framed and encoded once: every stream is handed the same bytes', () => {
    const event = frame({ id: 7, type: 'message', data: '{"text":"é"}' });
    const streams = Array.from({ length: 3 }, () => fakeResponse());
    for (const s of streams) open(s.res).deliver(event);
    for (const s of streams) expect(s.writes).toEqual([event.encoded]);
    // the very same Buffer, not a copy made per stream
    expect(streams.every((s) => s.writes[0] === event.encoded)).toBe(true);
    expect(event.encoded.toString()).toBe('id: 7\nevent: message\ndata: {"text":"é"}\n\n');
    expect(event.bytes).toBe(event.encoded.length);
  });

  it('leaves a stream in one chunk per tick: writes within a tick are corked together', async () => {
    const s = fakeResponse();
    const connection = open(s.res);
    for (let id = 1; id <= 5; id++) connection.deliver(frame({ id, type: 'message', data: '{}' }));
    expect(s.corks()).toBe(1);
    expect(s.uncorked).toEqual([]);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(s.uncorked).toEqual([5]);
  });
});
