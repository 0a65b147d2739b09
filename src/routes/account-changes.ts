import type { FastifyInstance } from 'fastify';
import type { SignatureAlgorithm } from '../crypto/keys.js';
import type { HandlersOf } from './types.js';

/** Accounts over time: a password change, new keys, and a reset with the administrator's code. */
export const accountChangeRoutes = ({
  accountChanges,
}: FastifyInstance): HandlersOf<'changePassword' | 'replaceKeys' | 'resetKeys'> => ({
  async changePassword(request, reply) {
    const { currentPassword, newPassword } = request.body;
    const { username } = request.session;
    try {
      await accountChanges.changePassword(request.session, currentPassword, newPassword, request.ip);
    } catch (error) {
      const reason = (error as { code?: string }).code;
      request.log.warn({ event: 'password.failure', username, ip: request.ip, reason }, 'security event');
      throw error;
    }
    request.log.info({ event: 'password.changed', username, ip: request.ip }, 'security event');
    return reply.status(204).send();
  },

  async replaceKeys(request) {
    const { continuity, ...rest } = request.body;
    const { username } = request.session;
    try {
      const changed = await accountChanges.replaceKeys(
        request.session,
        {
          ...rest,
          continuity: {
            ...continuity,
            signatureAlgorithm: continuity.signatureAlgorithm as SignatureAlgorithm,
          },
        },
        request.ip,
      );
      request.log.info({ event: 'keys.replaced', username, ip: request.ip }, 'security event');
      return changed;
    } catch (error) {
      const reason = (error as { code?: string }).code;
      request.log.warn({ event: 'keys.failure', username, ip: request.ip, reason }, 'security event');
      throw error;
    }
  },

  async resetKeys(request) {
    const { username } = request.params;
    try {
      const changed = await accountChanges.resetKeys(username, request.body, request.ip);
      request.log.info({ event: 'keys.reset', username, ip: request.ip }, 'security event');
      return changed;
    } catch (error) {
      const reason = (error as { code?: string }).code;
      request.log.warn({ event: 'reset.failure', username, ip: request.ip, reason }, 'security event');
      throw error;
    }
  },
});
