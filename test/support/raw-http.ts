import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A TCP connection to the server that writes exactly what a test gives it (a header cut short, a
 * body never finished, nothing at all) and tells what came back and when the server closed it.
 */
export class RawConnection {
  readonly socket: net.Socket;
  /** Everything received so far, as latin1. */
  received = '';
  /** Resolves once the socket is open. */
  readonly connected: Promise<void>;
  /** Resolves when the connection is closed (by either side), with ms since it was opened. */
  readonly closed: Promise<number>;
  private readonly waiters: (() => void)[] = [];

  constructor(url: string, options: { localAddress?: string } = {}) {
    const { port, hostname } = new URL(url);
    const start = performance.now();
    this.socket = net.connect({ port: Number(port), host: hostname, localAddress: options.localAddress });
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      this.wake();
    });
    this.connected = new Promise((resolve) => this.socket.once('connect', () => resolve()));
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        this.wake();
        resolve(performance.now() - start);
      }),
    );
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** The first response on the connection, once its head and its Content-Length of body are in. */
  async response(): Promise<RawResponse> {
    for (;;) {
      const parsed = parseResponse(this.received);
      if (parsed) return parsed;
      if (this.socket.destroyed) throw new Error(`closed before a whole response: ${this.received}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function parseResponse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = text.slice(end + 4, end + 4 + length);
  if (body.length < length) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

/** The head of a request with a JSON body of `length` bytes (which the test then sends, or not). */
export function requestHead(method: string, path: string, length: number, token?: string): string {
  const auth = token ? `Authorization: Bearer ${token}\r\n` : '';
  return `${method} ${path} HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
}
