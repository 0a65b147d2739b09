import createError from '@fastify/error';
import { BackendUnavailableError } from './util/unavailable.js';

/**
 * Every domain error, created once: a stable code and a status. One error handler turns them into
 * RFC 9457 problem+json (src/plugins/problems.ts). @see https://www.rfc-editor.org/rfc/rfc9457
 */
export const Errors = {
  INVALID_BODY: createError('INVALID_BODY', '%s', 400),
  INVALID_QUERY: createError('INVALID_QUERY', '%s', 400),
  INVALID_INVITEE: createError('INVALID_INVITEE', '%s', 400),
  CLOCK_SKEW: createError('CLOCK_SKEW', '%s', 400),
  BAD_SIGNATURE: createError('BAD_SIGNATURE', '%s', 400),
  INVALID_PREV: createError('INVALID_PREV', '%s', 400),
  INVALID_KEY: createError('INVALID_KEY', '%s', 400),
  WEAK_PASSWORD: createError('WEAK_PASSWORD', '%s', 400),
  INVALID_CREDENTIALS: createError('INVALID_CREDENTIALS', 'Unknown user or wrong password.', 401),
  UNAUTHENTICATED: createError('UNAUTHENTICATED', '%s', 401),
  INVALID_TOKEN: createError('INVALID_TOKEN', '%s', 401),
  TOKEN_EXPIRED: createError('TOKEN_EXPIRED', 'The token has expired; log in again.', 401),
  TOKEN_REVOKED: createError('TOKEN_REVOKED', 'The token was revoked by logout; log in again.', 401),
  NOT_JOINED: createError('NOT_JOINED', '%s', 403),
  INVALID_CODE: createError(
    'INVALID_CODE',
    'The code is wrong, used, expired or made for another username.',
    403,
  ),
  NOT_COMMITTER: createError('NOT_COMMITTER', '%s', 403),
  NOT_FOUND: createError('NOT_FOUND', '%s', 404),
  USER_NOT_FOUND: createError('USER_NOT_FOUND', 'No user %s.', 404),
  CHAT_NOT_FOUND: createError('CHAT_NOT_FOUND', 'No chat %s among your chats.', 404),
  KEY_NOT_FOUND: createError('KEY_NOT_FOUND', '%s', 404),
  STALE_EPOCH: createError('STALE_EPOCH', '%s', 409),
  DUPLICATE_MESSAGE: createError('DUPLICATE_MESSAGE', '%s', 409),
  REKEY_PENDING: createError('REKEY_PENDING', '%s', 409),
  EPOCH_COMMITTED: createError('EPOCH_COMMITTED', '%s', 409),
  NO_PENDING_EPOCH: createError('NO_PENDING_EPOCH', '%s', 409),
  PENDING_MISMATCH: createError('PENDING_MISMATCH', '%s', 409),
  ALREADY_MEMBER: createError('ALREADY_MEMBER', '%s', 409),
  CHAT_FULL: createError('CHAT_FULL', '%s', 409),
  USERNAME_TAKEN: createError('USERNAME_TAKEN', 'The username %s is taken.', 409),
  TOO_MANY_CHATS: createError('TOO_MANY_CHATS', '%s', 409),
  KEYS_CHANGED: createError('KEYS_CHANGED', 'Your keys changed while this change was made; try again.', 409),
  PAYLOAD_TOO_LARGE: createError('PAYLOAD_TOO_LARGE', '%s', 413),
  UNSUPPORTED_MEDIA_TYPE: createError('UNSUPPORTED_MEDIA_TYPE', '%s', 415),
  RATE_LIMITED: createError('RATE_LIMITED', '%s', 429),
  TOO_MANY_STREAMS: createError('TOO_MANY_STREAMS', '%s', 429),
  UNAVAILABLE: createError('UNAVAILABLE', '%s', 503),
} as const;

export type ErrorCode = keyof typeof Errors;

/** A 429 that says when to come back (seconds), sent as Retry-After. */
export function rateLimited(detail: string, retryAfterSeconds: number): Error {
  return Object.assign(new Errors.RATE_LIMITED(detail), {
    retryAfter: Math.max(1, Math.ceil(retryAfterSeconds)),
  });
}

/** A backend (PostgreSQL, Redis) does not answer, or is busy: 503 with when to try again (seconds). */
export function unavailable(detail: string, retryAfterSeconds = 5): Error {
  return Object.assign(new Errors.UNAVAILABLE(detail), { retryAfter: retryAfterSeconds });
}

/** Nothing was done because something did not answer (503, or a backend's own outage error): retry. */
export function isOutage(error: unknown): boolean {
  return error instanceof BackendUnavailableError || (error as { statusCode?: number }).statusCode === 503;
}
