export * as chats from './chats.js';
export { describeChat } from './chats.js';
export * as keystore from './keygen.js';
export * as keys from './keys.js';
export * as messages from './messages.js';
export { parseScheme, render } from './messages.js';
export * as account from './register.js';
export * as users from './users.js';
