import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { authRoutes } from '../routes/auth.js';
import { chatRoutes } from '../routes/chats.js';
import { eventRoutes } from '../routes/events.js';
import { messageRoutes } from '../routes/messages.js';
import { serverRoutes } from '../routes/server.js';
import type { Handlers } from '../routes/types.js';
import { userRoutes } from '../routes/users.js';
import type { Spec } from '../spec.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    operationId?: string;
  }
  interface FastifyInstance {
    /** Every route added, for the test that checks the spec and the routes agree. */
    routeList: { method: string; url: string }[];
  }
}

/** Routes every operation of openapi.yaml to the handler named by its operationId, with its schemas. */
export default fp(
  async function routes(app: FastifyInstance, { spec }: { spec: Spec }) {
    const s = app.services;
    const handlers: Handlers = {
      ...authRoutes(s),
      ...userRoutes(s),
      ...chatRoutes(s),
      ...messageRoutes(s),
      ...eventRoutes(s),
      ...serverRoutes(s),
    };
    const unrouted = spec.operations.filter((op) => !handlers[op.operationId]).map((op) => op.operationId);
    const unspecified = Object.keys(handlers).filter(
      (id) => !spec.operations.some((op) => op.operationId === id),
    );
    if (unrouted.length || unspecified.length) {
      throw new Error(
        `openapi.yaml and the handlers disagree: unrouted ${unrouted}; not in the spec ${unspecified}`,
      );
    }
    const { config } = s;
    // Per-operation limits (@fastify/rate-limit); posting is counted per user, after authentication.
    const limits: Record<string, object> = {
      login: { max: config.loginLimitPerIp, timeWindow: 60_000 },
      postMessage: {
        max: config.postLimit,
        timeWindow: 60_000,
        hook: 'preHandler',
        keyGenerator: (request: { session?: { username: string }; ip: string }) =>
          request.session?.username ?? request.ip,
      },
    };
    for (const op of spec.operations) {
      app.route({
        method: op.method,
        url: op.url,
        schema: op.schema,
        config: {
          operationId: op.operationId,
          ...(limits[op.operationId] && { rateLimit: limits[op.operationId] }),
        },
        onRequest: op.secured ? app.authenticate : undefined,
        handler: handlers[op.operationId] as never,
      });
    }
  },
  { name: 'routes', dependencies: ['services', 'auth', 'problems'] },
);
