import type { IncomingMessage, ServerResponse } from 'node:http';
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

/** The TCP socket under a request's socket (over TLS, the TLS socket's own; Node 20 names it `_parent`). */
function tcpOf(socket: Socket): Socket {
  return (socket as Socket & { _parent?: Socket })._parent ?? socket;
}

/**
 * At most `SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS` open connections per client address (IPv6 per
 * /64), counted by the socket's own address when it is accepted — before TLS or any byte of HTTP —
 * so one address cannot hold every file descriptor. At the cap a new connection is not simply
 * refused, since then one client could shut out everyone behind the same NAT or /64 by holding
 * half-sent requests: the address's oldest connection that is doing nothing for anyone (no request
 * yet, idle between requests, or a request whose head or body is still arriving) is closed to make
 * room. Only when every one of them is serving a request (a stream, a handler running) is the new
 * one closed at once. Behind a reverse proxy every connection comes from the proxy: raise the cap
 * there, or set 0.
 */
export default fp(
  async function connections(app: FastifyInstance) {
    const cap = app.config.maxConnectionsPerAddress;
    if (cap === 0) return;
    /** Each address's open connections, oldest first (a Set keeps insertion order). */
    const open = new Map<string, Set<Socket>>();
    /** The request a connection is on now, until its answer is done. */
    const current = new WeakMap<Socket, IncomingMessage>();
    /** Addresses refused since they were last under the cap: logged once each time they reach it. */
    const refusing = new Set<string>();
    const serving = (socket: Socket) => current.get(socket)?.complete === true;
    app.server.on('request', (request: IncomingMessage, reply: ServerResponse) => {
      const socket = tcpOf(request.socket as Socket);
      current.set(socket, request);
      reply.once('close', () => {
        if (current.get(socket) === request) current.delete(socket);
      });
    });
    app.server.on('connection', (socket: Socket) => {
      const key = keyOf(socket);
      if (key === undefined) return;
      let sockets = open.get(key);
      if (sockets === undefined) {
        sockets = new Set();
        open.set(key, sockets);
      }
      if (sockets.size >= cap) {
        const idle = [...sockets].find((s) => !serving(s));
        if (idle === undefined) {
          if (!refusing.has(key)) {
            refusing.add(key);
            app.log.warn({ event: 'connection.refused', address: key, cap }, 'security event');
          }
          socket.destroy();
          return;
        }
        sockets.delete(idle);
        idle.destroy();
      }
      sockets.add(socket);
      socket.once('close', () => {
        const mine = open.get(key);
        if (mine === undefined) return;
        mine.delete(socket);
        if (mine.size === 0) open.delete(key);
        refusing.delete(key);
      });
    });
  },
  { name: 'connections', dependencies: ['config'] },
);
