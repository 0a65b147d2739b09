import type { FastifyReply, FastifyRequest } from 'fastify';

/** Bodies, params and queries are validated against openapi.yaml before a handler runs. */
export type Request = FastifyRequest & {
  // biome-ignore lint/suspicious/noExplicitAny: shaped by the spec's schemas, checked by ajv
  body: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  params: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  query: any;
};

/** Handlers keyed by the operationId they serve. */
export type Handlers = Record<string, (request: Request, reply: FastifyReply) => unknown>;
