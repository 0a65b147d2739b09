import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { readPublicKeys } from '../../src/crypto/keystore.js';
import { backendEnv } from './backend.js';
import { FIXTURE_USERS } from './global-setup.js';

export { FIXTURE_USERS };
export const PASSWORD = 'correct horse battery';

export interface TestServer {
  app: FastifyInstance;
  url: string;
  dataDir: string;
  keysDir: string;
  env: Record<string, string>;
  close(): Promise<void>;
  /** Closes this server and starts a new one on the same folders (and returns it). */
  restart(): Promise<TestServer>;
}

export async function tempDir(prefix = 'securechat-test-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

async function start(
  env: Record<string, string>,
  dataDir: string,
  keysDir: string,
  cleanup: () => Promise<void>,
  port = 0,
): Promise<TestServer> {
  const config = loadConfig({
    SECURECHAT_DATA_DIR: dataDir,
    SECURECHAT_KEYS_DIR: keysDir,
    SECURECHAT_DEMO_USERS: 'false',
    BCRYPT_COST: '4',
    LOG_LEVEL: 'silent',
    ...(await backendEnv(dataDir)),
    ...env,
  });
  const app = await buildApp(config, { keySizes: { rsaBits: 2048 } });
  const address = await app.listen({ port, host: '127.0.0.1' });
  const server: TestServer = {
    app,
    url: address,
    dataDir,
    keysDir,
    env,
    async close() {
      await app.close();
      await cleanup();
    },
    /** Same folders and the same port, so clients carry on as after a real restart. */
    async restart() {
      await app.close();
      return start(env, dataDir, keysDir, cleanup, Number(new URL(address).port));
    },
  };
  return server;
}

/**
 * A real server on port 0 with temp data and key folders, the fixture users registered
 * (password {@link PASSWORD}) and their key stores copied into its keys folder.
 */
export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const root = await tempDir();
  const dataDir = path.join(root, 'data');
  const keysDir = path.join(root, 'keys');
  await cp(path.join(inject('fixtureKeys'), 'users'), path.join(keysDir, 'users'), { recursive: true });
  const server = await start(env, dataDir, keysDir, () => rm(root, { recursive: true, force: true }));
  for (const username of FIXTURE_USERS) {
    const keys = await readPublicKeys(path.join(keysDir, 'users', username));
    await server.app.accounts.register(username, PASSWORD, keys);
  }
  return server;
}

/** Folders with the fixture users registered, for real server processes (test/process, test/burst). */
export interface SeededFolders {
  dataDir: string;
  keysDir: string;
  root: string;
  /** The backend's settings (database, Redis) for the processes, besides the folders. */
  env: Record<string, string>;
}

/** Registers the fixture users in fresh folders (closing the in-process server), then `afterAll` removes them. */
export function seedFoldersForProcesses(): SeededFolders {
  const dirs = {} as SeededFolders;
  beforeAll(async () => {
    const seeded = await startServer();
    await seeded.app.close();
    Object.assign(dirs, {
      dataDir: seeded.dataDir,
      keysDir: seeded.keysDir,
      root: path.dirname(seeded.dataDir),
      env: { ...(await backendEnv(seeded.dataDir)), SECURECHAT_DATA_DIR: seeded.dataDir },
    });
  });
  afterAll(() => rm(dirs.root, { recursive: true, force: true }));
  return dirs;
}

/** Runs `fn` against a fresh {@link startServer} server and closes it after, whatever happens. */
export async function withServer<T>(
  env: Record<string, string>,
  fn: (server: TestServer) => Promise<T>,
): Promise<T> {
  const server = await startServer(env);
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

/** Resolves once `condition` holds, checked again on every turn of the event loop (no timer). */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setImmediate(r));
}
