import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { addressKey } from '../services/limiter.js';

/**
 * Node's HTTP server timeouts from the config. A client has `headersTimeout` for a request's head
 * (counted from the connection's first byte, or from its opening: an idle new connection is closed
 * too) and `requestTimeout` for the whole request; both end once the request is in, so an
 * `/events` stream, whose request is complete when it starts, is never cut by them. Between
 * requests a connection is kept `keepAliveTimeout`. No socket idle timeout is set: it would cut a
 * quiet stream between heartbeats. Node looks for expired requests every quarter of the header
 * timeout and at least once a second (its default, every 30 s, let a 60 s timeout run to 90).
 */
export function serverTimeouts(config: Config) {
  return {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(1000, Math.floor(config.headersTimeoutMs / 4))),
  };
}

/** The address a socket counts under; none for one already gone (or not on IP), never a throw here. */
function keyOf(socket: Socket): string | undefined {
  try {
    return socket.remoteAddress === undefined ? undefined : addressKey(socket.remoteAddress);
  } catch {
    return undefined;
  }
}

/**
 * At most `SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS` open connections per client address (IPv6 per
 * /64), counted by the socket's own address when it is accepted — before TLS or any byte of HTTP —
 * so one address cannot hold every file descriptor. A connection beyond the cap is closed at once.
 * Behind a reverse proxy every connection comes from the proxy: raise the cap there, or set 0.
 */
export default fp(
  async function connections(app: FastifyInstance) {
    const cap = app.config.maxConnectionsPerAddress;
    if (cap === 0) return;
    const open = new Map<string, number>();
    /** Addresses refused since they were last under the cap: logged once each time they reach it. */
    const refusing = new Set<string>();
    app.server.on('connection', (socket: Socket) => {
      const key = keyOf(socket);
      if (key === undefined) return;
      const count = open.get(key) ?? 0;
      if (count >= cap) {
        if (!refusing.has(key)) {
          refusing.add(key);
          app.log.warn({ event: 'connection.refused', address: key, cap }, 'security event');
        }
        socket.destroy();
        return;
      }
      open.set(key, count + 1);
      socket.once('close', () => {
        const left = (open.get(key) ?? 1) - 1;
        if (left > 0) open.set(key, left);
        else open.delete(key);
        refusing.delete(key);
      });
    });
  },
  { name: 'connections', dependencies: ['config'] },
);
