import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BusMessage } from '../bus/types.js';
import { type Metrics, NO_METRICS, type StreamCut } from '../util/metrics.js';
import { createClaims, type StreamClaim } from './claims.js';
import { type ConnectionLimits, frame, SseConnection, type StreamOwner } from './connection.js';
import { createHeartbeat } from './heartbeat.js';
import { createPresenceBatch } from './presence-batch.js';
import { createRegistry } from './registry.js';
import { type ReplaySource, replayInto } from './replay.js';

export interface HubOptions {
  replay: ReplaySource;
  heartbeatMs: number;
  limits: ConnectionLimits;
  /** Streams one user may hold on this instance, and open per minute. */
  maxStreamsPerUser: number;
  opensPerMinute: number;
  /** Whether a session was revoked (logout): checked again once its stream is registered. */
  isRevoked: (sessionId: string) => Promise<boolean>;
  log: { warn: (obj: object, msg: string) => void };
  /** Counts the streams cut (and why) and the events delivered. */
  metrics?: Metrics;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** The `retry:` a stream ended by a shutdown is given: reconnect soon (to another instance). */
const RECONNECT_MS = 1000;

/**
 * Holds this instance's open streams and writes bus messages to the ones they are for. Its parts:
 * the streams open (`registry.ts`), the slots claimed (`claims.ts`), the pings of quiet streams
 * (`heartbeat.ts`), presence gathered into windows (`presence-batch.ts`) and replay (`replay.ts`).
 */
export function createHub({
  replay,
  heartbeatMs,
  limits,
  maxStreamsPerUser,
  opensPerMinute,
  isRevoked,
  log,
  metrics = NO_METRICS,
}: HubOptions) {
  const registry = createRegistry();
  const claims = createClaims({ maxStreamsPerUser, opensPerMinute });
  const heartbeat = createHeartbeat(heartbeatMs);
  const presence = createPresenceBatch({ streams: registry.all, bufferBytes: limits.bufferBytes });

  let closing = false;
  const onCut = (connection: SseConnection, reason: StreamCut) => {
    metrics.streamCut(reason);
    log.warn(
      { username: connection.owner.username, bufferBytes: limits.bufferBytes, reason },
      'stream cut: client reads too slowly',
    );
  };
  /** Ends a stream (its session ended, or the server closes), counted with why. */
  const end = (connection: SseConnection, reason: StreamCut, retryMs?: number) => {
    if (connection.closed) return;
    metrics.streamCut(reason);
    connection.close(retryMs);
  };
  const endSession = (username: string, sessionId: string) => {
    const ended = registry.endSession(username, sessionId);
    for (let i = 0; i < ended; i++) metrics.streamCut('session_end');
  };

  function remove(connection: SseConnection): void {
    registry.remove(connection);
    heartbeat.remove(connection);
  }

  return {
    /**
     * Checks the user's rate of opens and their cap, and takes a slot at once (before any await)
     * when both allow: {@link open} takes the claim over, or the caller releases it.
     */
    claim: claims.claim,

    /**
     * Takes over the response: headers out at once, replay after Last-Event-ID, then live events.
     * The stream ends when the token expires, when its session ends, or when it is revoked
     * already (a logout that raced this open).
     */
    async open(
      req: IncomingMessage,
      res: ServerResponse,
      owner: StreamOwner,
      claim: StreamClaim,
      lastEventId: string | undefined,
      onClose: () => void,
    ): Promise<void> {
      const connection = new SseConnection(owner, res, limits, onCut);
      presence.opened(connection);
      const expiry = setTimeout(
        () => end(connection, 'session_end'),
        Math.max(0, Math.min(owner.expiresAt - Date.now(), MAX_TIMER_MS)),
      );
      expiry.unref();
      res.on('close', () => {
        clearTimeout(expiry);
        connection.closed = true;
        remove(connection);
        claim.release();
        onClose();
      });
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.flushHeaders();
      // admitted before the shutdown began, opened after closeAll: told to reconnect elsewhere
      if (closing) {
        connection.close(RECONNECT_MS);
        return;
      }
      req.socket.setNoDelay(true);
      registry.add(connection);
      heartbeat.add(connection);
      connection.comment('connected');
      try {
        // Registered from here on, so a logout from now on reaches this stream; one that came
        // before (while the request was authenticated) is seen here.
        if (await isRevoked(owner.sessionId)) {
          end(connection, 'session_end');
          return;
        }
        if (lastEventId !== undefined) await replayInto(replay, connection, lastEventId);
      } catch (error) {
        connection.close();
        throw error;
      }
      connection.goLive();
    },

    deliver(message: BusMessage): void {
      if (message.kind === 'close-session') {
        endSession(message.username, message.sessionId);
        return;
      }
      if (message.kind !== 'event') return;
      if (message.to === 'everyone' && message.id === undefined) {
        presence.gather(message);
        return;
      }
      // What was gathered goes out before this, as it came, to this event's recipients.
      presence.seal();
      const event = frame(message);
      let delivered = 0;
      const send = (connection: SseConnection) => {
        presence.catchUp(connection);
        connection.deliver(event);
        delivered += 1;
      };
      if (message.to === 'everyone') {
        for (const connection of registry.all) send(connection);
      } else {
        for (const username of message.to) {
          for (const connection of registry.of(username)) send(connection);
        }
      }
      if (delivered > 0) metrics.delivered(delivered);
    },

    /**
     * Reads again whether each session holding a stream here was revoked, and ends the streams of
     * those that were: after a bus outage, during which the end of a session may have been lost.
     */
    async recheckSessions(): Promise<void> {
      for (const [sessionId, username] of registry.sessions()) {
        if (await isRevoked(sessionId)) endSession(username, sessionId);
      }
    },

    get size(): number {
      return registry.all.size;
    },

    /** Streams this user holds (or is opening) on this instance. */
    count: claims.count,

    /** Bytes this user's streams hold in memory on this instance (queued to the socket, or pending). */
    queuedBytes: registry.queuedBytes,

    /** Ends every stream (shutdown); clients reconnect with Last-Event-ID. */
    closeAll(): void {
      closing = true;
      heartbeat.stop();
      presence.stop();
      for (const connection of [...registry.all]) end(connection, 'shutdown', RECONNECT_MS);
    },
  };
}

export type Hub = ReturnType<typeof createHub>;
