import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type Accounts, createAccounts } from '../services/accounts.js';

declare module 'fastify' {
  interface FastifyInstance {
    accounts: Accounts;
  }
}

export default fp(
  async function accounts(app: FastifyInstance) {
    const { config } = app;
    app.decorate(
      'accounts',
      createAccounts({
        store: app.store,
        bcryptCost: config.bcryptCost,
        tokenTtlSeconds: config.tokenTtl,
        signToken: app.signToken,
        failuresPerUser: config.loginFailuresPerUser,
        failuresPerUserAndAddress: config.loginFailuresPerUserIp,
        hashQueue: config.loginQueue,
        hashesPerAddress: config.loginHashesPerIp,
        counter: app.counters.counter,
      }),
    );
  },
  { name: 'accounts', dependencies: ['config', 'store', 'bus', 'auth'] },
);
