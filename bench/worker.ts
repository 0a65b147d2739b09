/**
 * A load process for the benchmarks, driven over IPC by bench/run.ts: it holds streams and records
 * when each message arrives, or posts prepared messages as fast as they are accepted or at a
 * fixed rate, or storms the login endpoint. It never shares a CPU budget with the server's process.
 */
import { Agent, request } from 'undici';
import {
  composeMessage,
  importChatKey,
  importPrivatePem,
  readBlocks,
  type SignatureAlgorithm,
} from '../src/client/index.js';
import { nodeSignatures } from '../src/client/node/index.js';

type Command =
  | { op: 'listen'; server: string; tokens: string[]; expect: number }
  | { op: 'idle'; server: string; token: string; count: number }
  | {
      op: 'prepare';
      chatId: string;
      epoch: number;
      sender: string;
      key: string;
      signingKey: string;
      alg: SignatureAlgorithm;
      count: number;
      bytes: number;
    }
  | {
      op: 'send';
      server: string;
      token: string;
      chatId: string;
      concurrency: number;
      rate?: number;
      seconds: number;
    }
  | { op: 'logins'; server: string; username: string; password: string; concurrency: number; seconds: number }
  | { op: 'exit' };

/** Messages handed to the IPC channel and not yet written: the process must not exit before they are. */
let unsent = 0;
let whenSent: (() => void) | undefined;
const send = (message: object) => {
  unsent += 1;
  process.send?.(message, () => {
    unsent -= 1;
    if (unsent === 0) whenSent?.();
  });
};
/** Exits once every message sent so far is written (a large `listened` takes a while on a loaded machine). */
const exitWhenSent = () => {
  if (unsent === 0) process.exit(0);
  whenSent = () => process.exit(0);
};
/** What the `exit` command reports first (the listener's deliveries), set by `listen`. */
let beforeExit: (() => void) | undefined;
// No cap on sockets per origin: every open stream holds one for good.
const agent = new Agent({
  pipelining: 1,
  keepAliveTimeout: 60_000,
  bodyTimeout: 0,
  headersTimeout: 0,
});
/** Posting shares at most 256 sockets: an open loop past the server's capacity queues here, timed from the schedule. */
const posting = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 60_000 });
let prepared: string[] = [];

async function listen(server: string, tokens: string[], expect: number): Promise<void> {
  const arrivals = new Map<string, number>();
  let deliveries = 0;
  let reported = false;
  const report = () => {
    if (reported) return;
    reported = true;
    send({ op: 'listened', deliveries, arrivals: [...arrivals] });
  };
  beforeExit = report;
  await Promise.all(
    tokens.map(async (token, index) => {
      const res = await request(`${server}/events`, {
        headers: { authorization: `Bearer ${token}` },
        dispatcher: agent,
      });
      if (index === tokens.length - 1) send({ op: 'listening' });
      await readBlocks(res.body, (block) => {
        if (block.event !== 'message' || block.data === undefined) return;
        deliveries += 1;
        // the first listener's arrival times stand for the chat (every member gets every message)
        if (index === 0) {
          const id = /"id":"([0-9a-f-]{36})"/.exec(block.data)?.[1];
          if (id) arrivals.set(id, performance.timeOrigin + performance.now());
        }
        if (deliveries >= expect) report();
      });
    }),
  );
}

async function idle(server: string, token: string, count: number): Promise<void> {
  const opened: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const res = await request(`${server}/events`, {
      headers: { authorization: `Bearer ${token}` },
      dispatcher: agent,
    });
    res.body.on('data', () => {});
    opened.push(res);
    if (i % 500 === 499) send({ op: 'progress', opened: i + 1 });
  }
  send({ op: 'idling', opened: opened.length });
}

/** Seals and signs `count` messages with the client library, before any is timed. */
async function prepare(c: Extract<Command, { op: 'prepare' }>): Promise<void> {
  const provider = nodeSignatures();
  const key = await importChatKey(new Uint8Array(Buffer.from(c.key, 'hex')));
  const signingKey = await importPrivatePem(provider, c.alg, c.signingKey);
  const text = 'a'.repeat(c.bytes);
  prepared = [];
  for (let i = 0; i < c.count; i++) {
    const body = await composeMessage(provider, {
      chatId: c.chatId,
      epoch: c.epoch,
      sender: c.sender,
      key,
      text,
      alg: c.alg,
      signingKey,
    });
    prepared.push(JSON.stringify(body));
  }
  send({ op: 'prepared', count: prepared.length });
}

/** The status, or 0 when the request failed outright (counted as refused, never fatal). */
async function post(c: Extract<Command, { op: 'send' }>, body: string): Promise<number> {
  try {
    const res = await request(`${c.server}/chats/${c.chatId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
      body,
      dispatcher: posting,
    });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return 0;
  }
}

/** Closed loop (as fast as accepted) or open loop at `rate`/s, timed from the schedule. */
async function sendAll(c: Extract<Command, { op: 'send' }>): Promise<void> {
  const started = performance.timeOrigin + performance.now();
  const deadline = started + c.seconds * 1000;
  const sentAt: [string, number][] = [];
  let accepted = 0;
  let refused = 0;
  let next = 0;
  const take = () => (next < prepared.length ? prepared[next++] : undefined);
  const idOf = (body: string) => body.slice(7, 43);
  const now = () => performance.timeOrigin + performance.now();
  if (c.rate) {
    const interval = 1000 / c.rate;
    const inFlight: Promise<void>[] = [];
    for (let i = 0; ; i++) {
      const scheduled = started + i * interval;
      if (scheduled >= deadline) break;
      const body = take();
      if (!body) break;
      const wait = scheduled - now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      // coordinated omission: latency counts from when the message was due, not when it went
      sentAt.push([idOf(body), scheduled]);
      inFlight.push(post(c, body).then((s) => void (s === 201 ? accepted++ : refused++)));
    }
    await Promise.all(inFlight);
  } else {
    await Promise.all(
      Array.from({ length: c.concurrency }, async () => {
        for (let body = take(); body && now() < deadline; body = take()) {
          sentAt.push([idOf(body), now()]);
          if ((await post(c, body)) === 201) accepted++;
          else refused++;
        }
      }),
    );
  }
  const bodyBytes = prepared.length > 0 ? Buffer.byteLength(prepared[0]) : 0;
  send({
    op: 'sent',
    accepted,
    refused,
    seconds: (now() - started) / 1000,
    sentAt,
    bodyBytes,
    left: prepared.length - next,
  });
}

async function logins(c: Extract<Command, { op: 'logins' }>): Promise<void> {
  const deadline = Date.now() + c.seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: c.concurrency }, async () => {
      while (Date.now() < deadline) {
        const res = await request(`${c.server}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: c.username, password: c.password }),
          dispatcher: agent,
        });
        await res.body.dump();
        done++;
      }
    }),
  );
  send({ op: 'logged-in', count: done });
}

process.on('message', (c: Command) => {
  const run = async () => {
    switch (c.op) {
      case 'listen':
        return listen(c.server, c.tokens, c.expect);
      case 'idle':
        return idle(c.server, c.token, c.count);
      case 'prepare':
        return prepare(c);
      case 'send':
        return sendAll(c);
      case 'logins':
        return logins(c);
      case 'exit':
        beforeExit?.();
        exitWhenSent();
    }
  };
  run().catch((error) => {
    send({ op: 'error', message: String(error?.stack ?? error) });
  });
});
send({ op: 'ready' });
