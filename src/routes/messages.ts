import type { FastifyInstance } from 'fastify';
import type { HandlersOf } from './types.js';

export const messageRoutes = ({ messages }: FastifyInstance): HandlersOf<'postMessage' | 'listMessages'> => ({
  async postMessage(request, reply) {
    const result = await messages.post(request.session.username, request.params.chatId, request.body);
    return reply.status(201).send(result);
  },

  listMessages: (request) =>
    messages.list(
      request.session.username,
      request.params.chatId,
      request.query.after ?? 0,
      request.query.limit ?? 100,
    ),
});
