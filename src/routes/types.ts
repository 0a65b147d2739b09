import type {
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
  RouteHandlerMethod,
} from 'fastify';
import type { Answer, OperationId, PathParams, QueryParams, RequestBody } from '../contract/index.js';

export type { OperationId };

/** What one operation's handler receives (validated against openapi.yaml before it runs) and answers. */
export interface Route<Op extends OperationId> {
  Body: RequestBody<Op>;
  Params: PathParams<Op>;
  Querystring: QueryParams<Op>;
  Reply: Answer<Op>;
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
