import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createRotationSweep } from '../services/rotation-sweep.js';
import { pruneEvents } from '../store/prune.js';

/** The background jobs: pruning old events, and rotating keys whose epoch grew old. */
export default fp(
  async function jobs(app: FastifyInstance) {
    const { config, store, chats } = app;
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

    app.addHook('onClose', async () => {
      clearInterval(prune);
      clearInterval(sweep);
    });
  },
  { name: 'jobs', dependencies: ['config', 'store', 'chats'] },
);
