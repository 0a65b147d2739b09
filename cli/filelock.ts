import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A lock older than this is a crashed client's, even if its pid now belongs to another process. */
const STALE_MS = 30_000;
/** How long a client waits for another one's read-merge-write (a few milliseconds each). */
const WAIT_MS = 15_000;

/** A temporary file name of its own for every write: two saves never share (and rename) one. */
export function tempName(file: string): string {
  return `${file}.${process.pid}.${randomUUID()}.tmp`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** Whether `lock` was left by a client that is gone (its pid is dead, or it is too old). */
async function stale(lock: string): Promise<boolean> {
  const found = await stat(lock).catch(() => undefined);
  if (!found) return false;
  if (Date.now() - found.mtimeMs > STALE_MS) return true;
  const pid = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
  return Number.isSafeInteger(pid) && pid > 0 && !alive(pid);
}

/**
 * Runs `fn` (a read-merge-write of `file`) holding `file.lock`, made with O_EXCL: two clients of
 * one user (two processes) take turns instead of each writing over the other's changes.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + WAIT_MS;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      if (await stale(lock)) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline)
        throw new Error(`${lock} is held by another securechat client (remove it if none is running)`);
      await sleep(2 + Math.random() * 10);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
