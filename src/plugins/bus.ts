import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Bus, Counters, Fanout, PresenceRegistry } from '../bus/types.js';

declare module 'fastify' {
  interface FastifyInstance {
    fanout: Fanout;
    registry: PresenceRegistry;
    counters: Counters;
  }
}

/** The bus's three ports, opened by buildApp(); closed after everything that uses them. */
export default fp(
  async function bus(app: FastifyInstance, opts: { bus: Bus }) {
    app.decorate('fanout', opts.bus.fanout);
    app.decorate('registry', opts.bus.registry);
    app.decorate('counters', opts.bus.counters);
    app.addHook('onClose', async () => {
      await opts.bus.close();
    });
  },
  { name: 'bus', dependencies: ['store'] },
);
