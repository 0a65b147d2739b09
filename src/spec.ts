import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** openapi.yaml at the package root: the single source of truth for routes and schemas. */
export const SPEC_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'openapi.yaml');

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export type JsonSchema = Record<string, unknown>;

export interface Operation {
  operationId: string;
  method: Uppercase<(typeof METHODS)[number]>;
  /** The OpenAPI path, e.g. `/chats/{chatId}`. */
  path: string;
  /** Fastify's form of it, e.g. `/chats/:chatId`. */
  url: string;
  secured: boolean;
  schema: {
    body?: JsonSchema;
    params?: JsonSchema;
    querystring?: JsonSchema;
    response?: Record<string, JsonSchema>;
  };
  /** Every documented response schema by status, errors included (the tests validate against them). */
  responses: Record<string, { contentType?: string; schema?: JsonSchema }>;
}

export interface Spec {
  document: Record<string, unknown>;
  text: string;
  operations: Operation[];
  /** A named schema from components, with every $ref resolved. */
  component(name: string): JsonSchema;
}

/** Inlines local `$ref`s; the spec has no recursive schemas. */
function resolver(document: Record<string, unknown>) {
  const lookup = (ref: string): unknown => {
    if (!ref.startsWith('#/')) throw new Error(`only local $ref is supported: ${ref}`);
    return ref
      .slice(2)
      .split('/')
      .reduce<unknown>(
        (node, key) => (node as Record<string, unknown>)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')],
        document,
      );
  };
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const object = node as Record<string, unknown>;
    if (typeof object.$ref === 'string') return resolve(lookup(object.$ref));
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve;
}

export function loadSpec(file = SPEC_PATH): Spec {
  const text = readFileSync(file, 'utf8');
  const document = parse(text) as Record<string, unknown>;
  const resolve = resolver(document);
  const globalSecurity = (document.security as unknown[] | undefined)?.length ?? 0;
  const operations: Operation[] = [];

  for (const [p, item] of Object.entries(document.paths as Record<string, Record<string, unknown>>)) {
    for (const method of METHODS) {
      const op = item[method] as Record<string, unknown> | undefined;
      if (!op) continue;
      const parameters = (resolve(op.parameters ?? []) as Record<string, unknown>[]) ?? [];
      const group = (where: string): JsonSchema | undefined => {
        const list = parameters.filter((x) => x.in === where);
        if (list.length === 0) return undefined;
        return {
          type: 'object',
          additionalProperties: where === 'path',
          required: list.filter((x) => x.required).map((x) => x.name),
          properties: Object.fromEntries(list.map((x) => [x.name, x.schema])),
        };
      };
      const body = resolve(
        (op.requestBody as { content?: Record<string, { schema?: unknown }> } | undefined)?.content?.[
          'application/json'
        ]?.schema,
      ) as JsonSchema | undefined;
      const responses: Operation['responses'] = {};
      const response: Record<string, JsonSchema> = {};
      for (const [status, raw] of Object.entries((op.responses ?? {}) as Record<string, unknown>)) {
        const r = resolve(raw) as { content?: Record<string, { schema?: JsonSchema }> };
        const [contentType, media] = Object.entries(r.content ?? {})[0] ?? [];
        responses[status] = { contentType, schema: media?.schema };
        if (status.startsWith('2') && contentType === 'application/json' && media?.schema)
          response[status] = media.schema;
      }
      const security = op.security as unknown[] | undefined;
      operations.push({
        operationId: op.operationId as string,
        method: method.toUpperCase() as Operation['method'],
        path: p,
        url: p.replace(/\{([^}]+)\}/g, ':$1'),
        secured: security ? security.length > 0 : globalSecurity > 0,
        schema: {
          ...(body && { body }),
          ...(group('path') && { params: group('path') }),
          ...(group('query') && { querystring: group('query') }),
          ...(Object.keys(response).length > 0 && { response }),
        },
        responses,
      });
    }
  }
  return {
    document,
    text,
    operations,
    component: (name) => resolve({ $ref: `#/components/schemas/${name}` }) as JsonSchema,
  };
}
