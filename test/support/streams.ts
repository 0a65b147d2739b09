import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { parseBlock, type SseBlock } from '../../src/client/sse.js';

/**
 * Resolves when the server's response to the next `GET /events` ends, with whether the server
 * ended it first: a test waits for the event itself, not for time to pass.
 */
export function nextStreamEnd(app: FastifyInstance): Promise<{ res: ServerResponse }> {
  return new Promise((resolve) => {
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url !== '/events') return;
      app.server.off('request', onRequest);
      res.once('close', () => resolve({ res }));
    };
    app.server.on('request', onRequest);
  });
}

/** Opens GET /events on a raw socket that never reads: the server's writes pile up. */
export function unreadStream(url: string, token: string, lastEventId?: string): net.Socket {
  const { port, hostname } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => {});
  socket.pause();
  const resume = lastEventId === undefined ? '' : `Last-Event-ID: ${lastEventId}\r\n`;
  socket.write(`GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n${resume}\r\n`);
  return socket;
}

/** How a stalled stream's socket ended, or that it did not: it went silent, or kept flowing. */
export type StallOutcome =
  | { closed: true; error?: string }
  | { closed: false; silentMs: number }
  | { closed: false; flowing: true };

/**
 * `GET /events` on a raw socket (TLS when the URL is https) that reads nothing until
 * {@link resume}, then keeps what comes: a client that stalled, then read again.
 */
export class StalledReader {
  readonly socket: net.Socket;
  private readonly received: Buffer[] = [];
  private lastData = Date.now();
  private end: { error?: string } | undefined;
  private wake: (() => void) | undefined;

  constructor(url: string, token: string, lastEventId?: string) {
    const { protocol, port, hostname } = new URL(url);
    this.socket =
      protocol === 'https:'
        ? tls.connect({ port: Number(port), host: hostname, rejectUnauthorized: false })
        : net.connect(Number(port), hostname);
    this.socket.pause();
    const resume = lastEventId === undefined ? '' : `Last-Event-ID: ${lastEventId}\r\n`;
    this.socket.write(`GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n${resume}\r\n`);
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      this.end ??= { error: error.code ?? error.message };
    });
    this.socket.on('close', () => {
      this.end ??= {};
      this.wake?.();
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.received.push(chunk);
      this.lastData = Date.now();
      this.wake?.();
    });
  }

  /** Starts reading (what the kernel held for it first). */
  resume(): void {
    this.lastData = Date.now();
    this.socket.resume();
  }

  /**
   * Waits until the socket closes (with its error, if any), or nothing comes for `silenceMs`, or
   * `withinMs` pass with data still coming.
   */
  async closedOrSilent(silenceMs: number, withinMs: number): Promise<StallOutcome> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      if (this.end) return { closed: true, ...this.end };
      const now = Date.now();
      if (now - this.lastData >= silenceMs) return { closed: false, silentMs: now - this.lastData };
      if (now >= deadline) return { closed: false, flowing: true };
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        timer = setTimeout(resolve, Math.min(deadline, this.lastData + silenceMs) - now);
      });
      clearTimeout(timer);
    }
  }

  /** Bytes received since the socket was opened (the response head and chunk framing included). */
  get bytes(): number {
    return this.received.reduce((sum, chunk) => sum + chunk.length, 0);
  }

  /** The complete events received, the response's chunked framing taken off. */
  blocks(): SseBlock[] {
    const raw = Buffer.concat(this.received);
    let at = raw.indexOf('\r\n\r\n');
    if (at < 0) return [];
    at += 4;
    const body: Buffer[] = [];
    for (;;) {
      const eol = raw.indexOf('\r\n', at);
      if (eol < 0) break;
      const size = Number.parseInt(raw.subarray(at, eol).toString('latin1'), 16);
      if (!(size > 0) || eol + 2 + size > raw.length) break;
      body.push(raw.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    const blocks = Buffer.concat(body).toString('utf8').split('\n\n');
    blocks.pop(); // an event cut off mid-way, or nothing
    return blocks.map(parseBlock);
  }
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0B': 'CLOSING',
};

/**
 * The kernel's IPv4 socket from `localPort` to `remotePort` on loopback (`/proc/net/tcp`): its state
 * and the bytes it still holds to send; undefined when there is none, null off Linux.
 */
export async function loopbackSocket(
  localPort: number,
  remotePort: number,
): Promise<{ state: string; sendQueue: number } | undefined | null> {
  const table = await readFile('/proc/net/tcp', 'utf8').catch(() => null);
  if (table === null) return null;
  const hex = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of table.split('\n').slice(1)) {
    const [, local, remote, state, queues] = line.trim().split(/\s+/);
    if (local !== hex(localPort) || remote !== hex(remotePort)) continue;
    return { state: TCP_STATES[state] ?? state, sendQueue: Number.parseInt(queues.split(':')[0], 16) };
  }
  return undefined;
}
