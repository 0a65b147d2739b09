import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { createPresence, type Presence } from '../services/presence.js';
import { createUsers, type Users } from '../services/users.js';

declare module 'fastify' {
  interface FastifyInstance {
    presence: Presence;
    users: Users;
  }
}

/** Presence (sessions, streams, grace periods) and the user directory that shows it. */
export default fp(
  async function presence(app: FastifyInstance) {
    const presence = createPresence({
      bus: app.fanout,
      registry: app.registry,
      store: app.store,
      graceMs: app.config.presenceGraceMs,
      onError: (error) => app.log.error({ err: error }, 'presence update failed'),
    });
    app.decorate('presence', presence);
    app.decorate('users', createUsers({ store: app.store, presence }));
    app.addHook('onClose', async () => {
      presence.close();
    });
  },
  { name: 'presence', dependencies: ['config', 'store', 'bus'] },
);
