import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { Errors } from '../errors.js';
import { addressKey } from '../services/limiter.js';

type HeadersMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: Error) => void) => void;
/**
 * helmet itself, the one @fastify/helmet is built on (its dependency, not one more of ours):
 * @fastify/helmet builds helmet's middleware again for every request (parsing the CSP each time),
 * while these headers are the same for every request, so they are made once here.
 */
const helmet = createRequire(createRequire(import.meta.url).resolve('@fastify/helmet'))('helmet') as (
  options: object,
) => HeadersMiddleware;

/**
 * The headers helmet's middleware sets, taken once: with these options they are the same for
 * every request (no nonce, nothing read from the request), so each request gets the list set
 * rather than a dozen middlewares run. A middleware that would remove a header, finish late or
 * fail is refused at startup rather than copied wrong.
 */
function headersOf(middleware: HeadersMiddleware): [string, string][] {
  const set: [string, string][] = [];
  let finished = false;
  const res = {
    setHeader(name: string, value: unknown) {
      if (typeof value !== 'string') throw new Error(`helmet set ${name} to a non-string`);
      set.push([name, value]);
    },
    removeHeader(name: string) {
      // Node's HTTP server sets no X-Powered-By, the one header helmet removes
      if (name.toLowerCase() !== 'x-powered-by') throw new Error(`helmet removed ${name}`);
    },
  };
  middleware({ headers: {} } as IncomingMessage, res as unknown as ServerResponse, (error) => {
    if (error) throw error;
    finished = true;
  });
  if (!finished) throw new Error('helmet did not finish at once');
  return set;
}

/**
 * Headers, CORS and rate limits. The CSP allows only same-origin scripts, which Swagger UI at /docs
 * works with; HSTS and upgrade-insecure-requests only when the server itself speaks TLS.
 */
export default fp(
  async function security(app: FastifyInstance, { config }: { config: Config }) {
    const tls = config.tls.mode !== 'off';
    const headers = helmet({
      hsts: tls ? { maxAge: 31_536_000 } : false,
      contentSecurityPolicy: {
        useDefaults: true,
        directives: { 'upgrade-insecure-requests': tls ? [] : null },
      },
    });
    const fixed = headersOf(headers);
    // the same twice, or the headers are not fixed (a nonce, say) and cannot be taken once
    if (JSON.stringify(headersOf(headers)) !== JSON.stringify(fixed))
      throw new Error('helmet sets different headers on each request; they cannot be set as a list');
    app.addHook('onRequest', (_request, reply, done) => {
      for (const [name, value] of fixed) reply.raw.setHeader(name, value);
      done();
    });
    if (config.corsOrigins.length > 0) {
      // Only the listed origins are ever echoed back; anything else gets no CORS headers at all.
      await app.register(cors, {
        origin: config.corsOrigins,
        methods: ['GET', 'POST'],
        allowedHeaders: ['authorization', 'content-type', 'last-event-id'],
        maxAge: 600,
      });
    }
    await app.register(rateLimit, {
      global: false,
      // per address, with IPv6 counted per /64
      keyGenerator: (request) => addressKey(request.ip),
      errorResponseBuilder: (_request, context) =>
        Object.assign(new Errors.RATE_LIMITED(`Too many requests; try again in ${context.after}.`), {
          retryAfter: Math.ceil(context.ttl / 1000),
        }),
    });
  },
  { name: 'security' },
);
