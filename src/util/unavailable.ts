/**
 * A backend (PostgreSQL, Redis) does not answer, or is busy: nothing was done, and the caller may
 * try again after `retryAfter` seconds. Thrown by the store and bus adapters, which know nothing of
 * HTTP; the one error handler (src/plugins/problems.ts) answers it as 503 UNAVAILABLE.
 */
export class BackendUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfter = 5,
  ) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}
