import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type AccountChanges, createAccountChanges } from '../services/account-changes.js';
import { keyEscrow, keyRewrapper } from '../services/key-escrow.js';

declare module 'fastify' {
  interface FastifyInstance {
    accountChanges: AccountChanges;
  }
}

/** How often each instance looks for removals the administrator marked (`user:remove`). */
export const REMOVAL_SWEEP_MS = 1000;

/**
 * Accounts over time: password and key changes, resets, logging out everywhere, and the removals
 * the administrator marks (completed here: sessions ended, every chat left). Every instance
 * forgets a user's cached keys when the bus says they changed (and everyone's after an outage).
 */
export default fp(
  async function accountChanges(app: FastifyInstance) {
    const { store, accounts, fanout } = app;
    const unsubscribe = fanout.subscribe((message) => {
      if (message.kind === 'user-changed') accounts.forget(message.username);
      else if (message.kind === 'event' && message.type === 'account.keys')
        accounts.forget((JSON.parse(message.data) as { username: string }).username);
    });
    fanout.onResume(() => accounts.forget());
    const changes = createAccountChanges({
      store,
      accounts,
      presence: app.presence,
      chats: app.chats,
      bus: fanout,
      rewrap: keyRewrapper(store, app.serverKey, keyEscrow(app.serverKey), accounts.encryptionKey),
      failuresPerAddress: app.config.registerFailuresPerIp,
      counter: app.counters.counter,
      audit: (event, fields) => app.log.info({ event, ...fields }, 'security event'),
      onError: (err, fields) => app.log.error({ err, ...fields }, 'a new epoch after a key change failed'),
    });
    app.decorate('accountChanges', changes);

    let sweeping = false;
    const sweep = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      changes
        .completeRemovals()
        .catch((err) => app.log.error({ err }, 'completing removals failed'))
        .then(() => changes.completeRekeys())
        .catch((err) => app.log.error({ err }, 'new epochs after a key change failed'))
        .finally(() => {
          sweeping = false;
        });
    }, REMOVAL_SWEEP_MS);
    sweep.unref();
    app.addHook('onClose', async () => {
      clearInterval(sweep);
      unsubscribe();
    });
  },
  {
    name: 'account-changes',
    dependencies: ['config', 'store', 'bus', 'accounts', 'presence', 'chats', 'server-key'],
  },
);
