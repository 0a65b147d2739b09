import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Spec } from '../spec.js';

/** The contract as written (static mode): /openapi.yaml, and Swagger UI at /docs. */
export default fp(
  async function docs(app: FastifyInstance, { spec }: { spec: Spec }) {
    await app.register(swagger, { mode: 'static', specification: { document: spec.document as never } });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: false } });
    app.get('/openapi.yaml', { schema: { hide: true } }, (_request, reply) =>
      reply.type('application/yaml; charset=utf-8').send(spec.text),
    );
  },
  { name: 'docs' },
);
