import type { FastifyInstance } from 'fastify';
import type { HandlersOf } from './types.js';

export const serverRoutes = ({
  serverInfo,
}: FastifyInstance): HandlersOf<'getServerKey' | 'getHealth' | 'getLiveness' | 'getReadiness'> => ({
  getServerKey: () => serverInfo.key(),

  getHealth: () => serverInfo.health(),

  getLiveness: () => serverInfo.live(),

  getReadiness: () => serverInfo.ready(),
});
