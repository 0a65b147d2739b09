import type { FastifyInstance } from 'fastify';
import { timestamp } from '../crypto/time.js';
import type { HandlersOf } from './types.js';

export const authRoutes = ({
  accounts,
  presence,
  accountChanges,
}: FastifyInstance): HandlersOf<'login' | 'logout'> => ({
  async login(request, reply) {
    const { username, password } = request.body;
    // A client that hangs up before its password is checked is not worth a bcrypt comparison.
    const gone = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) gone.abort();
    };
    reply.raw.once('close', onClose);
    let session: Awaited<ReturnType<typeof accounts.login>>;
    try {
      session = await accounts.login(username, password, request.ip, gone.signal);
    } catch (error) {
      request.log.warn({ event: 'login.failure', username, ip: request.ip }, 'security event');
      throw error;
    } finally {
      reply.raw.off('close', onClose);
    }
    request.log.info({ event: 'login.success', username, ip: request.ip }, 'security event');
    await presence.loggedIn(session.sessionId, username, session.expiresAt);
    return { token: session.token, expiresAt: timestamp(new Date(session.expiresAt)), username };
  },

  async logout(request, reply) {
    const { username, sessionId, expiresAt } = request.session;
    if (request.query.everywhere) {
      await accountChanges.logoutEverywhere(request.session);
      request.log.info({ event: 'logout.everywhere', username }, 'security event');
      return reply.status(204).send();
    }
    await accounts.revoke(sessionId, expiresAt);
    await presence.ended(sessionId, username);
    request.log.info({ event: 'logout', username }, 'security event');
    return reply.status(204).send();
  },
});
