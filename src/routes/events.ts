import { Errors, rateLimited } from '../errors.js';
import type { Services } from '../plugins/services.js';
import type { HandlersOf } from './types.js';

export const eventRoutes = ({ hub, presence, accounts, config }: Services): HandlersOf<'streamEvents'> => ({
  async streamEvents(request, reply) {
    const { username, sessionId, expiresAt } = request.session;
    const admitted = hub.claim(username);
    if (!admitted.ok && admitted.reason === 'rate-limited') {
      throw rateLimited(
        `You opened ${config.streamOpensPerMinute} event streams within a minute; try again later.`,
        admitted.retryAfterSeconds,
      );
    }
    if (!admitted.ok) {
      throw new Errors.TOO_MANY_STREAMS(
        `You already hold ${config.maxStreamsPerUser} event streams; close one first.`,
      );
    }
    const { claim } = admitted;
    // A logout since the token was checked (it may have come while the stream was claimed): 401,
    // before presence counts the session again. Nothing is awaited from here to streamOpened, so
    // a later logout finds the session there and ends it.
    try {
      if (await accounts.isRevoked(sessionId)) throw new Errors.TOKEN_REVOKED();
    } catch (error) {
      claim.release();
      throw error;
    }
    const lastEventId = request.headers['last-event-id'];
    // From here on the stream is ours: errors end the stream (the client resumes), never a reply.
    reply.hijack();
    try {
      await presence.streamOpened(sessionId, username, expiresAt);
      // The client may have gone while presence was updated; from hub.open on, 'close' is watched.
      if (reply.raw.destroyed || request.raw.socket.destroyed) {
        claim.release();
        presence.streamClosed(sessionId);
        return;
      }
      await hub.open(
        request.raw,
        reply.raw,
        { username, sessionId, expiresAt },
        claim,
        typeof lastEventId === 'string' ? lastEventId : undefined,
        () => presence.streamClosed(sessionId),
      );
    } catch (err) {
      claim.release();
      request.log.error({ err }, 'event stream failed');
      reply.raw.destroy();
    }
  },
});
