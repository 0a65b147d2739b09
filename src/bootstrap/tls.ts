import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { generatePemKeyPair } from '../crypto/keys.js';
import { selfSignedCertificate } from '../crypto/tls.js';
import { exists, type Log } from './files.js';

/** The TLS key and certificate: given files, or (self-signed) made once in `keys/server/`. */
export async function ensureTls(
  config: Config,
  log: Log,
): Promise<{ key: string; cert: string } | undefined> {
  const tls = config.tls;
  if (tls.mode === 'off') return undefined;
  if (tls.mode === 'files')
    return { key: await readFile(tls.key, 'utf8'), cert: await readFile(tls.cert, 'utf8') };
  const dir = path.join(config.keysDir, 'server');
  const keyFile = path.join(dir, 'tls.key.pem');
  const certFile = path.join(dir, 'tls.cert.pem');
  if (!(await exists(certFile))) {
    log.info({ certFile }, 'creating a self-signed TLS certificate for localhost, 127.0.0.1 and ::1');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const pair = await generatePemKeyPair('rsa', { modulusLength: 2048 });
    await writeFile(keyFile, pair.privateKey, { mode: 0o600 });
    await writeFile(certFile, selfSignedCertificate({ privateKey: pair.privateKey }), { mode: 0o644 });
  }
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8') };
}
