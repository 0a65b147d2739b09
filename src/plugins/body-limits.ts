import type { Config } from '../config.js';
import type { OperationId } from '../contract/index.js';

/**
 * Bytes of body wherever nothing larger is listed below: the operations that take no body
 * (`join`, `leave`, `logout`: an empty body or `{}`), the docs and the web client. Unknown paths
 * read none at all (src/plugins/not-found.ts).
 */
export const SMALL_BODY_LIMIT = 1024;

/**
 * The largest body each operation takes, in one place; over it, 413 `PAYLOAD_TOO_LARGE`, before
 * the body is read when its Content-Length says so. Each fits what the contract lets the body hold,
 * with room for whitespace and escapes: only messages and commits take more (`SECURECHAT_BODY_LIMIT`,
 * 1 MiB by default: a commit holds one envelope per member).
 */
export function bodyLimit(operationId: OperationId, config: Config): number {
  switch (operationId) {
    case 'postMessage':
    case 'commitEpoch':
      return config.bodyLimit;
    // a username (32) and a password (1,024 characters at most; a registered one is 8-72 bytes)
    case 'login':
      return 2 * 1024;
    // two passwords
    case 'changePassword':
      return 3 * 1024;
    // four public keys in PEM (an 8,192-bit RSA key is ~1.5 KB), a password and a code
    // (a key change: also a password, a code or a continuity signature)
    case 'registerUser':
    case 'replaceKeys':
    case 'resetKeys':
      return 16 * 1024;
    // at most 50 usernames of at most 32 characters
    case 'createChat':
    case 'inviteToChat':
      return 8 * 1024;
    default:
      return SMALL_BODY_LIMIT;
  }
}
