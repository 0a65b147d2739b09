import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spec } from './client.js';
import { startServer, type TestServer } from './helper.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server?.close());

describe('openapi.yaml and the routes', () => {
  it('routes every operation, and every route is in the spec', () => {
    const routes = new Set<string>();
    for (const op of spec.operations) {
      expect(server.app.hasRoute({ method: op.method, url: op.url }), `${op.method} ${op.url}`).toBe(true);
      routes.add(`${op.method} ${op.url}`);
    }
    // every route that is not docs is an operation of the spec
    const listed = [...server.app.routeList];
    const undocumented = listed.filter(
      (r) =>
        !r.url.startsWith('/docs') &&
        r.url !== '/openapi.yaml' &&
        r.method !== 'HEAD' &&
        !routes.has(`${r.method} ${r.url}`),
    );
    expect(undocumented).toEqual([]);
    expect(listed.length).toBeGreaterThan(spec.operations.length);
  });

  it('gives every operation an id and every 4xx a problem+json schema', () => {
    for (const op of spec.operations) {
      expect(op.operationId).toMatch(/^[a-z][A-Za-z]+$/);
      for (const [status, r] of Object.entries(op.responses)) {
        if (/^[45]/.test(status))
          expect(r.contentType, `${op.operationId} ${status}`).toBe('application/problem+json');
      }
    }
  });

  it('declares the schemas strict: no object schema accepts unknown properties', () => {
    const walk = (node: unknown, where: string): void => {
      if (!node || typeof node !== 'object') return;
      const o = node as Record<string, unknown>;
      if (o.type === 'object' && o.properties) expect(o.additionalProperties, where).toBe(false);
      for (const [k, v] of Object.entries(o)) walk(v, `${where}/${k}`);
    };
    walk((spec.document.components as Record<string, unknown>).schemas, '#/components/schemas');
  });
});
