import type { ChatKeys } from './chat-keys.js';
import { MessageRefused } from './errors.js';
import { type MessageData, messageScheme, openMessage, verifyMessageSignature } from './message.js';
import type { SignatureProvider } from './signatures.js';
import { escapeControls } from './text.js';
import { checkMessage } from './validate.js';

/** What reading a message needs: the keys to check its signature with, and the chat keys. */
export interface ReaderDeps {
  provider: SignatureProvider;
  chatKeys: ChatKeys;
}

/**
 * A message checked (its shape, that it is of `chatId`, its sender's signature) and then
 * decrypted; throws {@link MessageRefused} with the reason to show.
 */
export async function readMessage(deps: ReaderDeps, data: MessageData, chatId: string): Promise<string> {
  await checkSignature(deps, data, chatId);
  const epoch = data.message.epoch;
  // A refused envelope is the reason shown; a key that does not exist for us is "predates you".
  const key = Number.isSafeInteger(epoch) ? await deps.chatKeys.chatKey(data.chatId, epoch) : undefined;
  if (!key)
    throw new MessageRefused(
      `no key for epoch ${escapeControls(String(epoch))} of this chat (it predates you)`,
    );
  return openMessage(key, data);
}

/** The shape, the chat and the sender's signature of a message; throws {@link MessageRefused}. */
export async function checkSignature(deps: ReaderDeps, data: MessageData, chatId: string): Promise<void> {
  checkMessage(data); // the shape first: a malformed one is refused
  const alg = messageScheme(data, chatId);
  // this user's own messages (sent from another device) under its own keys, not a fetched copy
  const signingKey = await deps.chatKeys.signingKeyOf(data.sender, alg, data.receivedAt);
  if (!(await verifyMessageSignature(deps.provider, signingKey, data)))
    throw new MessageRefused(
      `the ${alg} signature does not verify against ${escapeControls(data.sender)}'s key`,
    );
}
