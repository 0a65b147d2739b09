import type { IncomingMessage, ServerResponse } from 'node:http';
import { Errors, rateLimited } from '../errors.js';
import type { Accounts } from '../services/accounts.js';
import type { Presence } from '../services/presence.js';
import type { StreamClaim } from './claims.js';
import type { Hub } from './hub.js';

export interface StreamSession {
  username: string;
  sessionId: string;
  expiresAt: number;
}

export interface StreamsDeps {
  hub: Hub;
  presence: Presence;
  accounts: Accounts;
  maxStreamsPerUser: number;
  opensPerMinute: number;
}

/** Opening `GET /events`: the stream caps, the revocation check, presence and the hub, in that order. */
export function createStreams({ hub, presence, accounts, maxStreamsPerUser, opensPerMinute }: StreamsDeps) {
  return {
    /**
     * A slot for one more stream of this session, or the refusal to answer (429, 401). Nothing is
     * written yet: the caller answers a refusal as usual, and hands an admitted stream to `serve`.
     */
    async admit({ username, sessionId }: StreamSession): Promise<StreamClaim> {
      const admitted = hub.claim(username);
      if (!admitted.ok && admitted.reason === 'rate-limited') {
        throw rateLimited(
          `You opened ${opensPerMinute} event streams within a minute; try again later.`,
          admitted.retryAfterSeconds,
        );
      }
      if (!admitted.ok) {
        throw new Errors.TOO_MANY_STREAMS(
          `You already hold ${maxStreamsPerUser} event streams; close one first.`,
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
      return claim;
    },

    /** Serves an admitted stream until it ends; errors end the stream (the client resumes), never throw. */
    async serve(
      request: IncomingMessage,
      response: ServerResponse,
      session: StreamSession,
      claim: StreamClaim,
      lastEventId: string | undefined,
      log: { error: (obj: object, msg: string) => void },
    ): Promise<void> {
      const { username, sessionId, expiresAt } = session;
      try {
        await presence.streamOpened(sessionId, username, expiresAt);
        // The client may have gone while presence was updated; from hub.open on, 'close' is watched.
        if (response.destroyed || request.socket.destroyed) {
          claim.release();
          presence.streamClosed(sessionId);
          return;
        }
        await hub.open(request, response, { username, sessionId, expiresAt }, claim, lastEventId, () =>
          presence.streamClosed(sessionId),
        );
      } catch (err) {
        claim.release();
        log.error({ err }, 'event stream failed');
        response.destroy();
      }
    },
  };
}

export type Streams = ReturnType<typeof createStreams>;
