import type { FastifyInstance } from 'fastify';
import type { HandlersOf } from './types.js';

export const userRoutes = ({
  users,
  accounts,
}: FastifyInstance): HandlersOf<'listUsers' | 'listOnlineUsers' | 'getUserStatus' | 'getUserKeys'> => ({
  listUsers: () => users.list(),

  listOnlineUsers: () => users.online(),

  getUserStatus: (request) => users.status(request.params.username),

  getUserKeys: (request) => accounts.publicKeys(request.params.username),
});
