import type { FastifyInstance } from 'fastify';
import type { HandlersOf } from './types.js';

export const chatRoutes = ({
  chats,
}: FastifyInstance): HandlersOf<
  'createChat' | 'listChats' | 'getChat' | 'inviteToChat' | 'joinChat' | 'leaveChat' | 'getChatKey'
> => ({
  async createChat(request, reply) {
    const result = await chats.create(request.session.username, request.body.invitees, request.body.keyMode);
    request.log.info({ chatId: result.chat.id, by: request.session.username }, 'chat created');
    return reply.status(201).send(result);
  },

  listChats: (request) =>
    chats.list(request.session.username, request.query.limit ?? 100, request.query.cursor),

  getChat: (request) => chats.get(request.params.chatId, request.session.username),

  async inviteToChat(request) {
    const result = await chats.invite(request.params.chatId, request.session.username, request.body.invitees);
    request.log.info(
      { chatId: result.chat.id, by: request.session.username, epoch: result.chat.epoch },
      'members invited',
    );
    return result;
  },

  joinChat: (request) => chats.join(request.params.chatId, request.session.username),

  async leaveChat(request, reply) {
    await chats.leave(request.params.chatId, request.session.username);
    return reply.status(204).send();
  },

  getChatKey: (request) => chats.key(request.params.chatId, request.session.username, request.query.epoch),
});
