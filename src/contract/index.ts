// The wire contract as types, for the server's routes and the client library alike: everything here
// is read from src/contract/openapi.ts, which `npm run gen:types` generates from openapi.yaml.
import type { components, operations } from './openapi.js';

/** Every operation of openapi.yaml, by its operationId. */
export type OperationId = keyof operations;

/** A named schema of openapi.yaml's components, e.g. `Schema<'Chat'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];

type JsonOf<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Present<T> = [Exclude<T, undefined>] extends [never] ? Record<string, never> : Exclude<T, undefined>;
type Responses<Op extends OperationId> = operations[Op]['responses'];

/** An operation's JSON request body (`undefined` for one without). */
export type RequestBody<Op extends OperationId> = operations[Op] extends { requestBody: infer R }
  ? JsonOf<R>
  : undefined;

/** An operation's path parameters (an empty object for one without). */
export type PathParams<Op extends OperationId> = Present<operations[Op]['parameters']['path']>;

/** An operation's query parameters (an empty object for one without). */
export type QueryParams<Op extends OperationId> = Present<operations[Op]['parameters']['query']>;

/** The JSON bodies of an operation's 2xx answers (never for a 204 or an event stream). */
export type Answer<Op extends OperationId> = {
  [S in keyof Responses<Op>]: `${S & number}` extends `2${string}` ? JsonOf<Responses<Op>[S]> : never;
}[keyof Responses<Op>];
