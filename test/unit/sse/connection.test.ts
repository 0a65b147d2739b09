import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { frame, SseConnection } from '../../../src/sse/connection.js';
import type { StreamCut } from '../../../src/util/metrics.js';

/** A response that records what is written to it; what it is written stays queued (a reader that reads nothing). */
function fakeResponse() {
  const writes: (string | Buffer)[] = [];
  const res = {
    writableLength: 0,
    socket: null,
    cork: () => {},
    uncork: () => {},
    write: (chunk: string | Buffer) => {
      writes.push(chunk);
      res.writableLength += Buffer.byteLength(chunk);
      return true;
    },
    end: () => {
      writes.push('<end>');
    },
    destroy: () => {},
  };
  const text = () => writes.map(String).join('');
  return { res, raw: res as unknown as ServerResponse, writes, text };
}

const open = (res: ServerResponse, bufferBytes = 1 << 20, cuts: StreamCut[] = []) => {
  const connection = new SseConnection(
    { username: 'bob', sessionId: 's', expiresAt: Number.MAX_SAFE_INTEGER },
    res,
    { bufferBytes, drainMs: 1000 },
    (_, reason) => cuts.push(reason),
  );
  connection.goLive();
  return connection;
};

const turnEnds = () => new Promise((resolve) => setImmediate(resolve));
const message = (id: number, data = '{}') => frame({ id, type: 'message', data });

describe('an event written to many streams', () => {
  it('is framed and encoded once: every stream is handed the same bytes', async () => {
    const event = frame({ id: 7, type: 'message', data: '{"text":"é"}' });
    const streams = Array.from({ length: 3 }, () => fakeResponse());
    for (const s of streams) open(s.raw).deliver(event);
    await turnEnds();
    for (const s of streams) expect(s.writes).toEqual([event.encoded]);
    // the very same Buffer, not a copy made per stream
    expect(streams.every((s) => s.writes[0] === event.encoded)).toBe(true);
    expect(event.encoded.toString()).toBe('id: 7\nevent: message\ndata: {"text":"é"}\n\n');
    expect(event.bytes).toBe(event.encoded.length);
  });
});

describe("a turn's events written to many streams", () => {
  it('are joined once for the streams that got the same ones in the same order, and apart for the others', async () => {
    const [one, two, three] = [message(1), message(2), message(3)];
    const same = Array.from({ length: 3 }, () => fakeResponse());
    for (const s of same) {
      const connection = open(s.raw);
      for (const event of [one, two, three]) connection.deliver(event);
    }
    const skipping = fakeResponse();
    const other = open(skipping.raw);
    for (const event of [one, three]) other.deliver(event);
    const fewer = fakeResponse();
    const third = open(fewer.raw);
    for (const event of [one, two]) third.deliver(event);
    await turnEnds();
    const all = (...ids: number[]) => ids.map((id) => `id: ${id}\nevent: message\ndata: {}\n\n`).join('');
    for (const s of same) expect(s.text()).toBe(all(1, 2, 3));
    expect(skipping.text()).toBe(all(1, 3));
    expect(fewer.text()).toBe(all(1, 2));
    // one copy for the three streams with the same events, another for each of the others
    expect(same.every((s) => s.writes[0] === same[0].writes[0])).toBe(true);
    expect(skipping.writes[0]).not.toBe(same[0].writes[0]);
    expect(fewer.writes[0]).not.toBe(same[0].writes[0]);
  });
});

describe('what reaches a live stream within one turn of the event loop', () => {
  it('leaves in one write when the turn ends, in the order it came', async () => {
    const s = fakeResponse();
    const connection = open(s.raw);
    connection.comment('ping');
    for (let id = 1; id <= 5; id++) connection.deliver(message(id));
    expect(s.writes).toEqual([]);
    await turnEnds();
    expect(s.writes).toHaveLength(1);
    expect(s.text()).toBe(
      `: ping\n\n${[1, 2, 3, 4, 5].map((id) => `id: ${id}\nevent: message\ndata: {}\n\n`).join('')}`,
    );
    // the next turn's events are the next write
    connection.deliver(message(6));
    await turnEnds();
    expect(s.writes).toHaveLength(2);
    expect(String(s.writes[1])).toBe('id: 6\nevent: message\ndata: {}\n\n');
  });

  it('counts against the byte budget before it is written: a stream past it is cut, and writes nothing', async () => {
    const s = fakeResponse();
    const cuts: StreamCut[] = [];
    const connection = open(s.raw, 1000, cuts);
    const big = (id: number) => message(id, `"${'x'.repeat(560)}"`);
    connection.deliver(big(1)); // 0 queued before it
    connection.deliver(big(2)); // about 600 before it: within the budget
    expect(connection.queuedBytes).toBeGreaterThan(1000);
    expect(cuts).toEqual([]);
    connection.deliver(big(3)); // over 1,000 before it: a slow reader
    expect(cuts).toEqual(['slow_reader']);
    expect(connection.closed).toBe(true);
    await turnEnds();
    expect(s.writes).toEqual([]);
  });

  it("adds to what the socket still holds: a reader that has not taken the last turn's bytes is cut", async () => {
    const s = fakeResponse();
    const cuts: StreamCut[] = [];
    const connection = open(s.raw, 1000, cuts);
    connection.deliver(message(1, `"${'x'.repeat(1100)}"`));
    await turnEnds();
    expect(s.res.writableLength).toBeGreaterThan(1000);
    connection.deliver(message(2));
    expect(cuts).toEqual(['slow_reader']);
    // once the reader took them, the next event goes out
    const t = fakeResponse();
    const keepsUp = open(t.raw, 1000, cuts);
    keepsUp.deliver(message(1, `"${'x'.repeat(1100)}"`));
    await turnEnds();
    t.res.writableLength = 0;
    keepsUp.deliver(message(2));
    await turnEnds();
    expect(cuts).toEqual(['slow_reader']);
    expect(t.writes).toHaveLength(2);
  });

  it('is written before the end when the stream is closed within the turn (a logout, a shutdown)', () => {
    const s = fakeResponse();
    const connection = open(s.raw);
    connection.deliver(message(1));
    connection.close(1000);
    expect(s.writes.map(String)).toEqual(['id: 1\nevent: message\ndata: {}\n\n', 'retry: 1000\n\n', '<end>']);
  });

  it('is dropped when the client went away before the turn ended', async () => {
    const s = fakeResponse();
    const connection = open(s.raw);
    connection.deliver(message(1));
    connection.closed = true; // the response's 'close'
    await turnEnds();
    expect(s.writes).toEqual([]);
  });
});

describe('a replay and the live events around it', () => {
  it('writes what waited for the turn before a replayed event, and the events held back after it, in order', async () => {
    const s = fakeResponse();
    const connection = new SseConnection(
      { username: 'bob', sessionId: 's', expiresAt: Number.MAX_SAFE_INTEGER },
      s.raw,
      { bufferBytes: 1 << 20, drainMs: 1000 },
      () => {},
    );
    connection.comment('connected');
    connection.deliver(message(3)); // live, held back while the replay runs
    await connection.sendPaced({ id: 1, type: 'message', data: '{}' });
    await connection.sendPaced({ id: 2, type: 'message', data: '{}' });
    connection.deliver(message(2)); // live, but already replayed: not sent again
    connection.goLive();
    connection.deliver(message(4));
    await turnEnds();
    const ids = s.text().match(/^(: connected|id: \d+)$/gm);
    expect(ids).toEqual([': connected', 'id: 1', 'id: 2', 'id: 3', 'id: 4']);
  });
});
