import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import type { NewMessage } from '../../src/store/message-types.js';
import { openSqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/types.js';
import { tempDir } from './helper.js';

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

/**
 * A SQLite store on a temp folder for the tests of one file: opened before them, closed and its
 * folder removed after. `store()` and `dir()` are read in the tests (they are set in beforeAll).
 */
export function useSqliteStore(prefix = 'store-') {
  let dir: string | undefined;
  let store: Store | undefined;
  beforeAll(async () => {
    dir = await tempDir(prefix);
    store = openSqliteStore(dir);
  });
  afterAll(async () => {
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return {
    store: () => store as Store,
    dir: () => dir as string,
  };
}
