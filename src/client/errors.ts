import { escapeControls } from './text.js';

/** A refusal or failure a user can act on: one line, never a stack trace. */
export class ClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientError';
  }
}

/** A problem+json answer (RFC 9457); `detail` is the server's text, escaped in the message. */
export class ApiError extends ClientError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    /** Seconds, from a `Retry-After` header. */
    readonly retryAfter?: number,
  ) {
    super(`${escapeControls(detail)} (${status} ${escapeControls(code)})`);
    this.name = 'ApiError';
  }
}

/** A key changed since it was pinned; the user must compare and accept the new one. */
export class KeyChangedError extends ClientError {}

/** A key envelope the client will not use: the reason is one line, shown as a warning. */
export class EnvelopeRefused extends ClientError {
  constructor(reason: string) {
    super(`WARNING: key envelope refused: ${reason}`);
  }
}

/** A message that is not shown as a message: the reason says why. */
export class MessageRefused extends ClientError {}

/** A public key that registration would refuse, with the rule it breaks. */
export class KeyCheckError extends ClientError {}
