import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createRegistration, type Registration } from '../services/registration.js';

declare module 'fastify' {
  interface FastifyInstance {
    registration: Registration;
  }
}

/** Self-registration with a one-time code (`POST /users`). */
export default fp(
  async function registration(app: FastifyInstance) {
    app.decorate(
      'registration',
      createRegistration({
        store: app.store,
        accounts: app.accounts,
        failuresPerAddress: app.config.registerFailuresPerIp,
        counter: app.counters.counter,
      }),
    );
  },
  { name: 'registration', dependencies: ['config', 'store', 'bus', 'accounts'] },
);
