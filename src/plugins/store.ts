import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Store } from '../store/types.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
  }
}

/** The store opened by buildApp(); registered first, so it closes last (onClose runs in reverse). */
export default fp(
  async function store(app: FastifyInstance, opts: { store: Store }) {
    app.decorate('store', opts.store);
    app.addHook('onClose', async () => {
      await opts.store.close();
    });
  },
  { name: 'store' },
);
