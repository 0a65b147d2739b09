import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/** The route label of a request that names no route: a raw path is never logged nor counted. */
export const UNKNOWN_ROUTE = '(unknown)';

/** The route template a request matched (`/chats/:chatId/messages`), never its raw path. */
export const routeOf = (request: FastifyRequest): string => request.routeOptions.url ?? UNKNOWN_ROUTE;

/** Sees each request answered: its method, route template, operation id, status and milliseconds. */
type Observe = (method: string, route: string, operation: string, status: number, ms: number) => void;

/**
 * One line per request at `info`, when it is answered: method, route template, status and
 * milliseconds, with the request id of Fastify's child logger; instead of Fastify's two lines
 * (`incoming request` and `request completed`, the first with the raw URL). The start of a request
 * is said at `debug` only (for a request that never ends). Security events are logged where they
 * happen, with the same request id. The metrics' HTTP histogram is fed here too: no hook of its own.
 */
export class RequestLog extends LogController {
  /** With metrics on: each request's time, and its 429s (src/bootstrap/metrics.ts). */
  constructor(private readonly observe?: Observe) {
    super();
  }

  incomingRequest(request: FastifyRequest): void {
    request.log.debug({ method: request.method, route: routeOf(request) }, 'incoming request');
  }

  requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const route = routeOf(request);
    const ms = reply.elapsedTime;
    if (this.observe) {
      const operation = (request.routeOptions.config as { operationId?: string }).operationId ?? route;
      this.observe(request.method, route, operation, reply.statusCode, ms);
    }
    const line = { method: request.method, route, status: reply.statusCode, ms: Math.round(ms * 10) / 10 };
    // the response itself failed (the socket broke before it was written whole)
    if (error) reply.log.warn({ ...line, err: { message: error.message } }, 'request');
    else reply.log.info(line, 'request');
  }
}
