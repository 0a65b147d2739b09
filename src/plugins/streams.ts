import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createHub, type Hub } from '../sse/hub.js';
import { createStreams, type Streams } from '../sse/streams.js';
import { subscribeHub } from '../sse/subscription.js';

declare module 'fastify' {
  interface FastifyInstance {
    hub: Hub;
    streams: Streams;
  }
}

/** This instance's event streams: the hub, fed by the bus, and how `GET /events` opens one. */
export default fp(
  async function streams(app: FastifyInstance) {
    const { config, store } = app;
    const hub = createHub({
      replay: {
        bounds: () => store.eventBounds(),
        after: (u, id, limit, maxBytes) => store.eventsAfter(u, id, limit, maxBytes),
        chatsOf: async (u) => new Set(await store.chatIdsOf(u)),
      },
      heartbeatMs: config.heartbeatMs,
      limits: { bufferBytes: config.streamBufferBytes, drainMs: config.streamDrainMs },
      maxStreamsPerUser: config.maxStreamsPerUser,
      opensPerMinute: config.streamOpensPerMinute,
      isRevoked: (sessionId) => store.isTokenRevoked(sessionId),
      log: app.log,
      metrics: app.metrics,
    });
    subscribeHub(app.fanout, hub, app.log);
    app.decorate('hub', hub);
    app.decorate(
      'streams',
      createStreams({
        hub,
        presence: app.presence,
        accounts: app.accounts,
        maxStreamsPerUser: config.maxStreamsPerUser,
        opensPerMinute: config.streamOpensPerMinute,
      }),
    );
    // Streams end before the server waits for open connections, so close() never hangs.
    app.addHook('preClose', async () => {
      hub.closeAll();
    });
  },
  { name: 'streams', dependencies: ['config', 'metrics', 'store', 'bus', 'accounts', 'presence'] },
);
