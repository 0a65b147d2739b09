import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { accountChangeRoutes } from '../routes/account-changes.js';
import { authRoutes } from '../routes/auth.js';
import { chatRoutes } from '../routes/chats.js';
import { epochRoutes } from '../routes/epochs.js';
import { eventRoutes } from '../routes/events.js';
import { messageRoutes } from '../routes/messages.js';
import { registrationRoutes } from '../routes/registration.js';
import { serverRoutes } from '../routes/server.js';
import type { Handlers, OperationId, Route } from '../routes/types.js';
import { userRoutes } from '../routes/users.js';
import type { Operation, Spec } from '../spec.js';
import { bodyLimit } from './body-limits.js';

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
    const handlers: Handlers = {
      ...authRoutes(app),
      ...userRoutes(app),
      ...chatRoutes(app),
      ...epochRoutes(app),
      ...messageRoutes(app),
      ...eventRoutes(app),
      ...serverRoutes(app),
      ...registrationRoutes(app),
      ...accountChangeRoutes(app),
    };
    // The compiler holds the handlers to src/contract/openapi.ts; this holds that to the openapi.yaml read.
    const routed = (id: string): id is OperationId => Object.hasOwn(handlers, id);
    const unrouted = spec.operations.filter((op) => !routed(op.operationId)).map((op) => op.operationId);
    const unspecified = Object.keys(handlers).filter(
      (id) => !spec.operations.some((op) => op.operationId === id),
    );
    if (unrouted.length || unspecified.length) {
      throw new Error(
        `openapi.yaml and the handlers disagree: unrouted ${unrouted}; not in the spec ${unspecified}`,
      );
    }
    const { config } = app;
    // Per-operation limits (@fastify/rate-limit), each counted before the body is read: logins and
    // registrations per address as the request arrives, posting and commits per user once the
    // token is checked.
    const limits: Partial<Record<OperationId, object>> = {
      login: { max: config.loginLimitPerIp, timeWindow: 60_000 },
      registerUser: { max: config.loginLimitPerIp, timeWindow: 60_000 },
      resetKeys: { max: config.loginLimitPerIp, timeWindow: 60_000 },
      // members-mode commits, before their body (up to 1,000 envelopes) is even parsed: a flood
      // of them past the limit costs next to nothing, and none reaches a signature check
      commitEpoch: {
        max: config.commitLimit,
        timeWindow: 60_000,
        hook: 'preParsing',
        keyGenerator: (request: { session?: { username: string }; ip: string }) =>
          request.session?.username ?? request.ip,
      },
      postMessage: {
        max: config.postLimit,
        timeWindow: 60_000,
        hook: 'preParsing',
        keyGenerator: (request: { session?: { username: string }; ip: string }) =>
          request.session?.username ?? request.ip,
      },
    };
    // Generic in the operation, so that each handler meets the route typed by its own operation.
    const route = <Op extends OperationId>(operationId: Op, op: Operation, handler: Handlers[Op]) =>
      app.route<Route<Op>>({
        method: op.method,
        url: op.url,
        schema: op.schema,
        bodyLimit: bodyLimit(operationId, config),
        config: {
          operationId,
          ...(limits[operationId] && { rateLimit: limits[operationId] }),
        },
        onRequest: op.secured ? app.authenticate : undefined,
        handler,
      });
    for (const op of spec.operations) {
      if (routed(op.operationId)) route<OperationId>(op.operationId, op, handlers[op.operationId]);
    }
  },
  {
    name: 'routes',
    dependencies: [
      'config',
      'auth',
      'problems',
      'accounts',
      'presence',
      'chats',
      'streams',
      'server-key',
      'account-changes',
    ],
  },
);
