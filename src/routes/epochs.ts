import type { FastifyInstance } from 'fastify';
import type { HandlersOf } from './types.js';

export const epochRoutes = ({ epochs }: FastifyInstance): HandlersOf<'commitEpoch'> => ({
  async commitEpoch(request) {
    const result = await epochs.commit(request.params.chatId, request.session.username, request.body);
    request.log.info(
      { chatId: result.chat.id, by: request.session.username, epoch: result.chat.epoch },
      'epoch committed',
    );
    return result;
  },
});
