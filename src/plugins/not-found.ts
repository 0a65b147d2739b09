import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { rateLimited } from '../errors.js';
import { addressKey } from '../services/limiter.js';
import { WindowCounter } from '../util/window-counter.js';
import { problem, sendProblem } from './problems.js';

/**
 * A request that names no route is answered in `onRequest`, as soon as its head is in: its body is
 * never read into memory nor parsed (Node discards whatever of it still arrives). Such requests
 * count per client address (IPv6 per /64, after the trusted proxies), in this process: past
 * `SECURECHAT_NOT_FOUND_LIMIT` a minute, 429 with `Retry-After`.
 */
export default fp(
  async function notFound(app: FastifyInstance) {
    const perAddress = new WindowCounter(app.config.notFoundLimit, 60_000);
    const answer = (request: FastifyRequest, reply: FastifyReply) =>
      sendProblem(
        reply,
        problem(404, 'NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`),
      );
    app.setNotFoundHandler(answer);
    app.addHook('onRequest', async (request, reply) => {
      if (!request.is404) return;
      const wait = perAddress.take(addressKey(request.ip));
      if (wait > 0)
        throw rateLimited('Too many requests for paths that do not exist; see Retry-After.', wait);
      return answer(request, reply);
    });
  },
  { name: 'not-found', dependencies: ['problems', 'config'] },
);
