import type { KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Bus } from '../bus/types.js';
import { createServerInfo, type ServerInfo, serverKeyView } from '../services/server.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The envelope-signing key (private: it signs key envelopes, never leaves the process). */
    serverKey: KeyObject;
    serverInfo: ServerInfo;
  }
}

/** The server's signing key, made or read at start, and what the server says about itself. */
export default fp(
  async function serverKey(app: FastifyInstance, opts: { serverKey: KeyObject; bus: Pick<Bus, 'ping'> }) {
    app.decorate('serverKey', opts.serverKey);
    app.decorate(
      'serverInfo',
      createServerInfo({ store: app.store, bus: opts.bus, key: serverKeyView(opts.serverKey) }),
    );
  },
  { name: 'server-key', dependencies: ['store', 'bus'] },
);
