import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';

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
