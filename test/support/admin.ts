import { execFile } from 'node:child_process';
import path from 'node:path';
import { backendEnv } from './backend.js';
import type { TestServer } from './helper.js';

/** One of the administrator's commands (`src/admin/<command>.ts`), on `server`'s data, as a process. */
export async function runAdmin(server: TestServer, command: string, args: string[], stdin = '') {
  const env = {
    ...process.env,
    SECURECHAT_DATA_DIR: server.dataDir,
    SECURECHAT_KEYS_DIR: server.keysDir,
    BCRYPT_COST: '4',
    ...(await backendEnv(server.dataDir)),
  };
  const child = execFile(
    path.resolve('node_modules/.bin/tsx'),
    [path.resolve(`src/admin/${command}.ts`), ...args],
    {
      env,
    },
  );
  child.stdin?.end(stdin);
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
