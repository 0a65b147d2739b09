import { int, oneOf, text } from './parse.js';
import { type Env, readSetting, readUrl, setting, shown } from './read.js';

/** Where users, chats, messages and events live: SQLite in the data folder, or PostgreSQL. */
export type StoreConfig = { kind: 'sqlite' } | { kind: 'postgres'; url: string; poolSize: number };

/** How events and presence reach the other instances: in this process only, or through Redis. */
export type BusConfig = { kind: 'memory' } | { kind: 'redis'; url: string; prefix: string };

/** The folders (relative to the working folder until the config resolves them) and SQLite's durability. */
export const storageSettings = {
  dataDir: setting('SECURECHAT_DATA_DIR', './data', text, 'a folder'),
  keysDir: setting('SECURECHAT_KEYS_DIR', './keys', text, 'a folder'),
  sqliteSync: setting(
    'SECURECHAT_SQLITE_SYNC',
    'normal',
    oneOf(['normal', 'full'] as const),
    'normal or full',
  ),
};

const poolSize = setting('SECURECHAT_DB_POOL', 10, int(1, 1000), 'connections 1-1000');

export function readStore(env: Env, problems: string[]): StoreConfig {
  const pool = readSetting(env, poolSize, problems);
  const kind = env.SECURECHAT_STORE || 'sqlite';
  if (kind === 'sqlite') return { kind };
  if (kind === 'postgres') {
    const url = readUrl(
      env,
      'DATABASE_URL',
      ['postgres:', 'postgresql:'],
      'with SECURECHAT_STORE=postgres',
      problems,
    );
    return { kind, url, poolSize: pool };
  }
  problems.push(`${shown('SECURECHAT_STORE', kind)} is invalid: expected sqlite or postgres`);
  return { kind: 'sqlite' };
}

export function readBus(env: Env, problems: string[]): BusConfig {
  const kind = env.SECURECHAT_BUS || 'memory';
  if (kind === 'memory') return { kind };
  if (kind === 'redis') {
    const url = readUrl(env, 'REDIS_URL', ['redis:', 'rediss:'], 'with SECURECHAT_BUS=redis', problems);
    const prefix = env.SECURECHAT_REDIS_PREFIX ?? 'securechat:';
    if (!/^[\w:.-]{1,64}$/.test(prefix)) {
      problems.push(
        `${shown('SECURECHAT_REDIS_PREFIX', prefix)} is invalid: expected 1-64 of A-Z a-z 0-9 _ : . -`,
      );
    }
    return { kind, url, prefix };
  }
  problems.push(`${shown('SECURECHAT_BUS', kind)} is invalid: expected memory or redis`);
  return { kind: 'memory' };
}
