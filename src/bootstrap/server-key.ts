import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generatePemKeyPair, PRODUCTION_KEY_SIZES } from '../crypto/keys.js';
import { exists, type Log } from './files.js';

/** The server's RSA-PSS envelope-signing key, made once in `keys/server/`. */
export async function ensureServerKey(
  keysDir: string,
  log: Log,
  rsaBits = PRODUCTION_KEY_SIZES.rsaBits,
): Promise<KeyObject> {
  const dir = path.join(keysDir, 'server');
  const privateFile = path.join(dir, 'signing.key.pem');
  if (!(await exists(privateFile))) {
    log.info({ dir, rsaBits }, 'creating the server signing key');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = await generatePemKeyPair('rsa', { modulusLength: rsaBits });
    try {
      await writeFile(privateFile, pair.privateKey, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      // another instance on the same folder made it first: theirs is the key
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    }
  }
  const key = createPrivateKey(await readFile(privateFile, 'utf8'));
  const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
  const publicFile = path.join(dir, 'signing.pub.pem');
  if ((await readFile(publicFile, 'utf8').catch(() => '')) !== publicPem)
    await writeFile(publicFile, publicPem, { mode: 0o644 });
  return key;
}
