import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { Errors } from '../errors.js';
import { nestedDeeperThan } from '../util/json-depth.js';
import { BackendUnavailableError } from '../util/unavailable.js';

/**
 * Arrays and objects one body may open inside each other. The deepest body the contract takes is
 * three levels (a commit's `envelopes`, each an object); deeper is refused before JSON.parse runs.
 */
export const MAX_JSON_DEPTH = 32;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
}

/** RFC 9457 problem details; `code` is the stable machine-readable reason. */
export function problem(status: number, code: string, detail: string): Problem {
  return {
    type: `urn:securechat:problem:${code.toLowerCase().replace(/_/g, '-')}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
  };
}

export function sendProblem(reply: FastifyReply, p: Problem, retryAfter?: number): FastifyReply {
  if (p.status === 401) reply.header('www-authenticate', 'Bearer realm="securechat"');
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  return reply.status(p.status).type('application/problem+json; charset=utf-8').send(JSON.stringify(p));
}

/** A path parameter that fails its pattern names nothing that exists. */
const NOT_FOUND_BY_PARAM: Record<string, (value: string) => Error> = {
  chatId: (v) => new Errors.CHAT_NOT_FOUND(v),
  username: (v) => new Errors.USER_NOT_FOUND(v),
};

const OWN_CODES = new Set(Object.keys(Errors));

/** Maps Fastify's own errors (parsing, validation, limits) onto the protocol's codes. */
function toProblem(
  error: FastifyError,
  params: Record<string, string>,
  bodyLimit?: number,
): Problem | undefined {
  if (error instanceof BackendUnavailableError) return problem(503, 'UNAVAILABLE', error.message);
  if (error.validation) {
    if (error.validationContext === 'params') {
      const name = Object.keys(NOT_FOUND_BY_PARAM).find((key) => key in params);
      const mapped = name ? NOT_FOUND_BY_PARAM[name](params[name]) : new Errors.NOT_FOUND('Not found.');
      return toProblem(mapped as FastifyError, {});
    }
    const code = error.validationContext === 'querystring' ? 'INVALID_QUERY' : 'INVALID_BODY';
    return problem(400, code, error.message);
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send bodies as application/json.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(
        413,
        'PAYLOAD_TOO_LARGE',
        `The request body is over this operation's limit${bodyLimit ? ` of ${bodyLimit} bytes` : ''}.`,
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return problem(400, 'INVALID_BODY', error.message);
  }
  if (error.code && OWN_CODES.has(error.code) && error.statusCode) {
    return problem(error.statusCode, error.code, error.message);
  }
  if (error.statusCode === 429) return problem(429, 'RATE_LIMITED', 'Too many requests; see Retry-After.');
  if (error instanceof SyntaxError || (error as { statusCode?: number }).statusCode === 400) {
    return problem(400, 'INVALID_BODY', `The body is not valid JSON: ${error.message}`);
  }
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    return problem(error.statusCode, 'BAD_REQUEST', error.message);
  }
  return undefined;
}

export default fp(
  async function problems(app: FastifyInstance) {
    // An empty body with a JSON content type means "no body", as for POST /chats/{id}/join.
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      // blank (only white space, /\S/ stops at the first other character: no copy of the body)
      if (typeof body === 'string' && !/\S/.test(body)) return done(null, undefined);
      if (nestedDeeperThan(body as string, MAX_JSON_DEPTH)) {
        return done(
          new Errors.INVALID_BODY(`The body is nested deeper than ${MAX_JSON_DEPTH} arrays or objects.`),
          undefined,
        );
      }
      parseJson(request, body as string, done);
    });
    // Bodies are JSON. Any other media type is 415, except an empty body, which is no body at all.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
      if (body === '') return done(null, undefined);
      done(new Errors.UNSUPPORTED_MEDIA_TYPE('Send bodies as application/json.'), undefined);
    });

    app.setErrorHandler((error: FastifyError, request, reply) => {
      const params = (request.params ?? {}) as Record<string, string>;
      const mapped = toProblem(error, params, request.routeOptions.bodyLimit);
      if (mapped) {
        if (mapped.status === 401)
          request.log.info({ event: 'auth.refused', code: mapped.code }, 'security event');
        if (mapped.status === 429)
          request.log.warn({ event: 'rate.limited', code: mapped.code }, 'security event');
        return sendProblem(reply, mapped, (error as { retryAfter?: number }).retryAfter);
      }
      request.log.error({ err: error }, 'unhandled error');
      return sendProblem(
        reply,
        problem(500, 'INTERNAL_ERROR', 'The server failed; the error is in its log.'),
      );
    });
  },
  { name: 'problems' },
);
