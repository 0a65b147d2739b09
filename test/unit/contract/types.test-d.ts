// Checked by `npm run typecheck` (tsc), not run by vitest: every `@ts-expect-error` below must meet
// an error, so each case shows a mistake the compiler refuses.
import type { Chat, KeyEnvelope, MessageBody, MessageData, Unavailable } from '../../../src/client/index.js';
import type { Schema } from '../../../src/contract/index.js';
import type { Handlers, HandlersOf } from '../../../src/routes/types.js';

declare const handlers: Handlers;
const { getHealth: _health, ...withoutHealth } = handlers;

/** All handlers, one per operationId of openapi.yaml, compile. */
export const all: Handlers = { ...handlers };

// @ts-expect-error a handler missing for an operation of the spec
export const missing: Handlers = withoutHealth;

// @ts-expect-error an operationId the spec does not have
export const unknown: Handlers = { ...handlers, sendFax: handlers.getHealth };

// @ts-expect-error a route file cannot serve an operationId the spec does not have
export type UnknownInFile = HandlersOf<'login' | 'sendFax'>;

export const health: HandlersOf<'getHealth'> = {
  // @ts-expect-error an answer the spec's Health schema does not allow
  getHealth: async () => ({ status: 'fine' }),
};

export const login: HandlersOf<'login'> = {
  async login(request) {
    // @ts-expect-error a field LoginRequest does not have
    request.body.email;
    const { username } = request.body;
    return { token: 'token', expiresAt: '2026-01-01T00:00:00Z', username };
  },
};

export const getChat: HandlersOf<'getChat'> = {
  async getChat(request) {
    const chatId: string = request.params.chatId;
    // @ts-expect-error a path parameter getChat does not have
    request.params.username;
    return {
      id: chatId,
      epoch: 1,
      createdBy: 'alice',
      createdAt: '2026-01-01T00:00:00Z',
      members: [],
      keyMode: 'server',
    };
  },
};

export const createChat: HandlersOf<'createChat'> = {
  async createChat(request, reply) {
    const invitees: string[] = request.body.invitees;
    // @ts-expect-error a 201 body the spec's CreateChatResponse does not allow
    return reply.status(201).send({ chat: invitees });
  },
};

// The client library's own names for what the wire carries are the contract's, field for field.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const sameAsTheContract: [
  Same<KeyEnvelope, Schema<'KeyEnvelope'>>,
  Same<MessageBody, Schema<'PostMessageRequest'>>,
  Same<MessageBody, Schema<'StoredMessage'>>,
  Same<MessageData, Schema<'MessageEvent'>>,
  Same<Chat, Schema<'Chat'>>,
  Same<Unavailable, Schema<'Unavailable'>>,
] = [true, true, true, true, true, true];
