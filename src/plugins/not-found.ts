import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { addressKey } from '../services/limiter.js';
import { WindowCounter } from '../util/window-counter.js';
import { problem, sendProblem } from './problems.js';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Answers a request for a path that names nothing (no route; or, from Fastify's
     * `frameworkErrors`, a path whose percent-encoding is not UTF-8 or whose part is too long):
     * 404, or 429 past the per-address limit.
     */
    answerUnknownPath: (request: FastifyRequest, reply: FastifyReply, why?: string) => FastifyReply;
  }
}

/**
 * A request that names no route is answered in `onRequest`, as soon as its head is in: its body is
 * never read into memory nor parsed (Node discards whatever of it still arrives). Such requests
 * count per client address (IPv6 per /64, after the trusted proxies), in this process: past
 * `SECURECHAT_NOT_FOUND_LIMIT` a minute, 429 with `Retry-After`.
 */
export default fp(
  async function notFound(app: FastifyInstance) {
    const perAddress = new WindowCounter(app.config.notFoundLimit, 60_000);
    const notFound = (request: FastifyRequest, reply: FastifyReply, why = '') =>
      sendProblem(
        reply,
        problem(404, 'NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}${why}.`),
      );
    const answerUnknownPath = (request: FastifyRequest, reply: FastifyReply, why?: string) => {
      const wait = perAddress.take(addressKey(request.ip));
      if (wait <= 0) return notFound(request, reply, why);
      const detail = 'Too many requests for paths that do not exist; see Retry-After.';
      request.log.warn({ event: 'rate.limited', code: 'RATE_LIMITED' }, 'security event');
      return sendProblem(reply, problem(429, 'RATE_LIMITED', detail), Math.max(1, Math.ceil(wait)));
    };
    app.decorate('answerUnknownPath', answerUnknownPath);
    app.setNotFoundHandler((request, reply) => notFound(request, reply));
    app.addHook('onRequest', async (request, reply) => {
      if (request.is404) return answerUnknownPath(request, reply);
    });
  },
  { name: 'not-found', dependencies: ['problems', 'config'] },
);
