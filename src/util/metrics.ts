import { BackendUnavailableError } from './unavailable.js';

/**
 * What the domain counts for the operator's metrics, said where it happens (a message accepted or
 * refused, a stream cut, a login's result, a key rotated, deliveries): a port, so that the layers
 * below the wiring import no metrics library. The wiring gives the Prometheus implementation
 * (src/bootstrap/metrics.ts) when metrics are on, and {@link NO_METRICS} (nothing at all) when off.
 * Every label value is one of a fixed set: never a username, a chat id, a token or an address.
 */
export interface Metrics {
  /** A message post's outcome: `accepted`, or the refusal's problem code (`STALE_EPOCH`, …). */
  message(result: string): void;
  /** Events written to streams (one per stream an event reached). */
  delivered(streams: number): void;
  /** A stream ended by the server, and why. */
  streamCut(reason: StreamCut): void;
  /** A login's outcome: `success`, or the refusal's problem code (`INVALID_CREDENTIALS`, …). */
  login(result: string): void;
  /** A chat's key rotated: `server` mode at the new epoch, `members` mode at the commit. */
  keyRotation(mode: 'server' | 'members', reason: string): void;
  /** Events the relay read from the store because the bus had not brought them (in time). */
  relayGapFills(events: number): void;
}

/**
 * Why the server ended a stream: its reader fell a buffer behind (`slow_reader`), events queued
 * behind a replay passed the buffer (`buffer`), a replay's reader made no room in time
 * (`drain_deadline`), its session ended (token expired, logout: `session_end`), or the server is
 * closing (`shutdown`). A client resumes each with Last-Event-ID.
 */
export type StreamCut = 'slow_reader' | 'buffer' | 'drain_deadline' | 'session_end' | 'shutdown';

/** Metrics off: every count is a call that does nothing. */
export const NO_METRICS: Metrics = {
  message: () => {},
  delivered: () => {},
  streamCut: () => {},
  login: () => {},
  keyRotation: () => {},
  relayGapFills: () => {},
};

/** The problem code of an error a service threw (`RATE_LIMITED`, …), or `error` for any other. */
export function resultOf(error: unknown): string {
  if (error instanceof BackendUnavailableError) return 'UNAVAILABLE';
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z_]{1,40}$/.test(code) ? code : 'error';
}
