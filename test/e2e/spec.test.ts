import { randomUUID } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { spec } from '../support/client.js';
import { startServer, type TestServer } from '../support/helper.js';

/** `METHOD /path/{param}` for every operation of openapi.yaml, read here from the file itself. */
let documented: Map<string, { responses: Record<string, unknown> }>;
/** `METHOD /path/{param}` for every route the running app has, as Fastify added them. */
const routed = new Set<string>();
let server: TestServer;

beforeAll(async () => {
  const document = parse(await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8'));
  documented = new Map();
  for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, never>>)) {
    for (const method of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']) {
      if (item[method]) documented.set(`${method.toUpperCase()} ${path}`, item[method]);
    }
  }
  // Fastify announces each instance as it is made: every route added to it from then on is seen,
  // however the app builds its routes.
  const onInstance = (message: unknown) => {
    const app = (message as { fastify: FastifyInstance }).fastify;
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        routed.add(`${method} ${route.url.replace(/:(\w+)/g, '{$1}')}`);
      }
    });
  };
  subscribe('fastify.initialization', onInstance);
  try {
    server = await startServer();
  } finally {
    unsubscribe('fastify.initialization', onInstance);
  }
});
afterAll(() => server?.close());

/** What the server answers for a method and path it has no route for. */
const noRoute = (method: string, path: string) => ({
  status: 404,
  code: 'NOT_FOUND',
  detail: `No route ${method} ${path}.`,
});

async function answer(method: string, path: string) {
  const res = await request(server.url + path, { method: method as 'GET' });
  const body = (await res.body.json()) as { code: string; detail: string };
  return { status: res.statusCode, code: body.code, detail: body.detail };
}

describe('openapi.yaml and the routes', () => {
  it('routes every operation, and every route is in the spec', () => {
    expect(documented.size).toBeGreaterThan(15);
    const missing = [...documented.keys()].filter((op) => !routed.has(op));
    expect(missing, 'operations of openapi.yaml without a route').toEqual([]);
    const undocumented = [...routed].filter(
      // HEAD comes with every GET (Fastify's exposeHeadRoutes); /docs and /openapi.yaml serve the spec;
      // / and /assets/ the web client (src/plugins/web.ts)
      (r) =>
        !(r.startsWith('HEAD ') && routed.has(`GET ${r.slice(5)}`)) &&
        !/^(GET|HEAD) (\/docs(\/|$)|\/openapi\.yaml$|\/$|\/assets\/)/.test(r) &&
        !documented.has(r),
    );
    expect(undocumented, 'routes that openapi.yaml does not have').toEqual([]);
  });

  it('answers every operation over HTTP with one of its documented statuses, never "no route"', async () => {
    expect(await answer('GET', '/no-such-route')).toEqual(noRoute('GET', '/no-such-route'));
    for (const [op, { responses }] of documented) {
      const [method, template] = op.split(' ');
      const path = template
        .replace('{username}', 'alice')
        .replace('{chatId}', randomUUID())
        .replace(/\{\w+\}/g, '1');
      const got = await answer(method, path);
      expect(got, `${op} has no route`).not.toEqual(noRoute(method, path));
      expect(Object.keys(responses), `${op} answered ${got.status}`).toContain(String(got.status));
    }
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
