import { randomUUID } from 'node:crypto';
import type { NewMessage } from '../../src/store/message-types.js';

/**
 * A message as a store takes it, for the store tests: its ciphertext and signature are well-formed
 * base64 that means nothing (a store never opens or verifies them).
 */
export const newMessage = (
  chatId: string,
  sender: string,
  epoch = 1,
  id: string = randomUUID(),
): NewMessage => ({
  chatId,
  sender,
  receivedAt: new Date().toISOString(),
  message: {
    id,
    epoch,
    sentAt: new Date().toISOString(),
    iv: 'AAAAAAAAAAAAAAAA',
    ciphertext: 'AA==',
    tag: 'AAAAAAAAAAAAAAAAAAAAAA==',
    signatureAlgorithm: 'ed25519',
    signature: 'AA==',
  },
});
