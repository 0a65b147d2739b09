import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { type Accounts, createAccounts } from '../services/accounts.js';

declare module 'fastify' {
  interface FastifyInstance {
    accounts: Accounts;
  }
}

/** The accounts service's login limits, as configured (config.ts holds their defaults). */
export const loginLimits = (config: Config) => ({
  failuresPerUser: config.loginFailuresPerUser,
  failuresPerUserAndAddress: config.loginFailuresPerUserIp,
  hashQueue: config.loginQueue,
  hashesPerAddress: config.loginHashesPerIp,
});

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
        ...loginLimits(config),
        counter: app.counters.counter,
        metrics: app.metrics,
      }),
    );
  },
  { name: 'accounts', dependencies: ['config', 'metrics', 'store', 'bus', 'auth'] },
);
