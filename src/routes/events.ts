import type { FastifyInstance } from 'fastify';
import type { HandlersOf } from './types.js';

export const eventRoutes = ({ streams }: FastifyInstance): HandlersOf<'streamEvents'> => ({
  async streamEvents(request, reply) {
    const claim = await streams.admit(request.session);
    const lastEventId = request.headers['last-event-id'];
    // From here on the stream is ours: errors end the stream (the client resumes), never a reply.
    reply.hijack();
    await streams.serve(
      request.raw,
      reply.raw,
      request.session,
      claim,
      typeof lastEventId === 'string' ? lastEventId : undefined,
      request.log,
    );
  },
});
