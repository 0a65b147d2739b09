import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createRotationSweep } from '../services/rotation-sweep.js';
import { pruneEvents } from '../store/prune.js';

/** The background jobs: pruning old events, rotating keys whose epoch grew old, dropping stale pending additions. */
export default fp(
  async function jobs(app: FastifyInstance) {
    const { config, store, chats, epochs } = app;
    const prune = setInterval(
      () => {
        const before = new Date(Date.now() - config.eventRetentionSeconds * 1000).toISOString();
        pruneEvents(store, before, Date.now()).catch((err) => app.log.error({ err }, 'pruning failed'));
      },
      Math.min(3_600_000, config.eventRetentionSeconds * 1000),
    );
    prune.unref();

    // Keys also rotate with age: a chat whose epoch is older than rotateSeconds gets a new one.
    const sweepDue = createRotationSweep({
      store,
      rotate: (chatId, reason, epoch) => chats.rotate(chatId, reason, epoch),
      rotateSeconds: config.rotateSeconds,
      onError: (err, chatId) => app.log.error({ err, chatId }, 'key rotation sweep failed'),
    });
    const sweep = setInterval(sweepDue, Math.max(1000, Math.min(60_000, (config.rotateSeconds * 1000) / 2)));
    sweep.unref();

    // Members mode: additions nobody committed in time are dropped (the invitation fails).
    const dropStale = setInterval(
      () => epochs.dropStale().catch((err) => app.log.error({ err }, 'dropping stale pending epochs failed')),
      Math.max(250, Math.min(10_000, (config.pendingSeconds * 1000) / 4)),
    );
    dropStale.unref();

    app.addHook('onClose', async () => {
      clearInterval(prune);
      clearInterval(sweep);
      clearInterval(dropStale);
    });
  },
  { name: 'jobs', dependencies: ['config', 'store', 'chats'] },
);
