import type { Services } from '../plugins/services.js';
import type { HandlersOf } from './types.js';

export const registrationRoutes = ({ registration }: Services): HandlersOf<'registerUser'> => ({
  async registerUser(request, reply) {
    const { username } = request.body;
    let registered: Awaited<ReturnType<typeof registration.register>>;
    try {
      registered = await registration.register(request.body, request.ip);
    } catch (error) {
      const reason = (error as { code?: string }).code;
      request.log.warn({ event: 'register.failure', username, ip: request.ip, reason }, 'security event');
      throw error;
    }
    request.log.info({ event: 'register.success', username, ip: request.ip }, 'security event');
    return reply.status(201).send(registered);
  },
});
