/**
 * The client side of protocol v1, once: the CLI, the tests, the bench and (next) the browser
 * client use it. WebCrypto only; Node-only adapters live in ./node/.
 */
export * from './account.js';
export * from './api.js';
export * from './bigint.js';
export * from './bytes.js';
export * from './canonical.js';
export * from './chat-keys.js';
export * from './chats.js';
export * from './dsa.js';
export * from './dsa-keygen.js';
export * from './envelope.js';
export * from './errors.js';
export * from './former-keys.js';
export { ROUTES } from './http.js';
export * from './key-change.js';
export * from './key-set.js';
export * from './keygen.js';
export * from './keys.js';
export * from './member-commits.js';
export * from './members.js';
export * from './message.js';
export * from './register.js';
export * from './safety-number.js';
export * from './session.js';
export * from './signatures.js';
export * from './sse.js';
export * from './stores.js';
export * from './text.js';
export * from './transcript.js';
export * from './transcript-history.js';
export * from './transcript-state.js';
export * from './transcript-store.js';
export * from './transcript-types.js';
export * from './trust.js';
export * from './user-keys.js';
export * from './validate.js';
