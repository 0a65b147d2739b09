import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exists } from './files.js';

/** A 256-bit HS256 secret kept in the data folder (mode 0600) unless one is configured. */
export async function ensureJwtSecret(dataDir: string, configured?: string): Promise<string> {
  if (configured) return configured;
  const file = path.join(dataDir, 'jwt.secret');
  // 0700 whatever made the folder before (mkdir's mode only applies to a folder it creates)
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await chmod(dataDir, 0o700);
  if (!(await exists(file))) {
    await writeFile(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' }).catch(
      (error) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
  }
  await chmod(file, 0o600);
  return (await readFile(file, 'utf8')).trim();
}
