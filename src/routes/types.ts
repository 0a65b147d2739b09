import type {
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
  RouteHandlerMethod,
} from 'fastify';
import type { operations } from '../contract/openapi.js';

/** Every operation of openapi.yaml, by its operationId (src/contract/openapi.ts, `npm run gen:types`). */
export type OperationId = keyof operations;

type JsonOf<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Present<T> = [Exclude<T, undefined>] extends [never] ? Record<string, never> : Exclude<T, undefined>;
type Responses<Op extends OperationId> = operations[Op]['responses'];

/** What one operation's handler receives (validated against openapi.yaml before it runs) and answers. */
export interface Route<Op extends OperationId> {
  Body: operations[Op] extends { requestBody: infer R } ? JsonOf<R> : undefined;
  Params: Present<operations[Op]['parameters']['path']>;
  Querystring: Present<operations[Op]['parameters']['query']>;
  /** The JSON bodies of its 2xx answers (none for a 204 or an event stream). */
  Reply: {
    [S in keyof Responses<Op>]: `${S & number}` extends `2${string}` ? JsonOf<Responses<Op>[S]> : never;
  }[keyof Responses<Op>];
}

export type Handler<Op extends OperationId> = RouteHandlerMethod<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  Route<Op>
>;

/** One handler per operationId: one missing, or one the spec does not have, does not compile. */
export type Handlers = { [Op in OperationId]: Handler<Op> };

/** The handlers a route file serves. */
export type HandlersOf<Op extends OperationId> = Pick<Handlers, Op>;
