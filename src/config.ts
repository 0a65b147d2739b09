import { isIP } from 'node:net';
import path from 'node:path';
import proxyaddr from '@fastify/proxy-addr';

/** Everything the server reads from its environment, validated once at start. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  keysDir: string;
  demoUsers: boolean;
  bcryptCost: number;
  /** Token lifetime in seconds. */
  tokenTtl: number;
  presenceGraceMs: number;
  heartbeatMs: number;
  /** Stored events older than this many seconds are pruned; a client behind them gets `resync`. */
  eventRetentionSeconds: number;
  logLevel: string;
  /** 32+ bytes; when absent a secret is created in the data folder. */
  jwtSecret?: string;
  /** Largest body of a message or a commit, in bytes; every other operation's is fixed (src/plugins/body-limits.ts). */
  bodyLimit: number;
  /** Requests to paths that name no route, per client address per minute (more get 429). */
  notFoundLimit: number;
  /** Milliseconds a client has to send a request's head, and the whole request; idle keep-alive. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Open connections per client address (IPv6: per /64); 0 means no cap. */
  maxConnectionsPerAddress: number;
  /** Bytes an SSE connection may have queued before it is cut (the client resumes with Last-Event-ID). */
  streamBufferBytes: number;
  tls: { mode: 'off' } | { mode: 'self-signed' } | { mode: 'files'; cert: string; key: string };
  /** Origins allowed by CORS; empty means CORS is off. */
  corsOrigins: string[];
  /** Login attempts per client address per minute. */
  loginLimitPerIp: number;
  /** Failed logins per username (from any address) per 5 minutes; and per username and address per minute. */
  loginFailuresPerUser: number;
  loginFailuresPerUserIp: number;
  /** Failed registrations (POST /users: wrong codes, good codes with bad keys) per address per 10 minutes. */
  registerFailuresPerIp: number;
  /** Password checks that may wait for bcrypt (more get 503), and that one address may have at once (more get 429). */
  loginQueue: number;
  loginHashesPerIp: number;
  /**
   * Proxies whose X-Forwarded-For is believed (addresses, CIDR ranges, or loopback, linklocal,
   * uniquelocal); empty means the socket's address is the client's.
   */
  trustProxy: string[];
  /** Messages one user may post per minute. */
  postLimit: number;
  /** Members-mode commits (POST /chats/{id}/epochs) one user may send per minute. */
  commitLimit: number;
  /** Open /events streams per user. */
  maxStreamsPerUser: number;
  /** Event streams: opens per user per minute, and how long a replay waits for a reader to make room. */
  streamOpensPerMinute: number;
  streamDrainMs: number;
  maxMembersPerChat: number;
  /** Chats and history (GET /chats/{id}/messages): limits per user and the size of a page. */
  chatCreateLimit: number;
  membershipLimit: number;
  maxChatsPerUser: number;
  historyLimit: number;
  historyPageBytes: number;
  /** SQLite: `normal` (a commit survives the process crashing) or `full` (it survives power loss too). */
  sqliteSync: 'normal' | 'full';
  /** The key of a chat rotates after this many messages, or this many seconds, in one epoch. */
  rotateMessages: number;
  rotateSeconds: number;
  /** Members-mode chats: how long the additions of a pending epoch wait for a commit. */
  pendingSeconds: number;
  /** How long SIGTERM waits for requests in flight. */
  shutdownMs: number;
  /** Where users, chats, messages and events live: SQLite in the data folder, or PostgreSQL. */
  store: { kind: 'sqlite' } | { kind: 'postgres'; url: string; poolSize: number };
  /** How events and presence reach the other instances: in this process only, or through Redis. */
  bus: { kind: 'memory' } | { kind: 'redis'; url: string; prefix: string };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** Variables whose values are secrets (URLs are never repeated either: they may hold a password). */
const SECRETS = ['SECURECHAT_JWT_SECRET'];

/**
 * How a wrong value is named in a problem: with its value, unless the variable is a secret or the
 * value looks like a URL or credentials (`://`, `@`) — a Redis URL pasted into the wrong variable.
 */
function shown(name: string, raw: string): string {
  return SECRETS.includes(name) || /:\/\/|@/.test(raw) ? name : `${name}=${JSON.stringify(raw)}`;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses `3600`, `3600s`, `60m`, `1h`, `7d` into seconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[match[2] ?? 's'] ?? 1;
  const seconds = Number(match[1]) * unit;
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : undefined;
}

type Env = Record<string, string | undefined>;

/** A comma-separated list, each item checked: undefined when one fails or the list is empty. */
function parseList(raw: string, valid: (item: string) => boolean): string[] | undefined {
  const items = raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  return items.length > 0 && items.every(valid) ? items : undefined;
}

function parseOrigins(raw: string): string[] | undefined {
  return parseList(raw, (o) => {
    try {
      const url = new URL(o);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === o;
    } catch {
      return false;
    }
  });
}

/**
 * A connection URL with the expected schemes. Problems never repeat the value: it may hold a password.
 */
function readUrl(env: Env, name: string, schemes: string[], needed: string, problems: string[]) {
  const raw = env[name];
  if (!raw) {
    problems.push(`${name} is required ${needed}`);
    return '';
  }
  try {
    if (schemes.includes(new URL(raw).protocol)) return raw;
  } catch {
    // reported below
  }
  problems.push(`${name} is invalid: expected a URL starting ${schemes.map((s) => `${s}//`).join(' or ')}`);
  return '';
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * `10.0.0.1, 10.1.0.0/16, loopback`: each an address, a CIDR range or a proxy-addr name, and the
 * whole list one that the proxy library itself compiles (it refuses a `/0` range, for one), so a
 * wrong value is named here rather than failing the start with the library's own message.
 */
function parseProxies(raw: string): string[] | undefined {
  const list = parseList(raw, (hop) => {
    if (PROXY_NAMES.includes(hop)) return true;
    const [address = '', bits, extra] = hop.split('/');
    const family = isIP(address);
    if (family === 0 || extra !== undefined) return false;
    return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
  if (!list) return undefined;
  try {
    proxyaddr.compile(list);
  } catch {
    return undefined;
  }
  return list;
}

function readStore(env: Env, problems: string[], poolSize: number): Config['store'] {
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
    return { kind, url, poolSize };
  }
  problems.push(`${shown('SECURECHAT_STORE', kind)} is invalid: expected sqlite or postgres`);
  return { kind: 'sqlite' };
}

function readBus(env: Env, problems: string[]): Config['bus'] {
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

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const read = <T>(name: string, fallback: T, parse: (raw: string) => T | undefined, expected: string): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = parse(raw);
    if (value === undefined) {
      // a secret's value is never repeated, not even a wrong one: it may be the right one mistyped
      problems.push(`${shown(name, raw)} is invalid: expected ${expected}`);
      return fallback;
    }
    return value;
  };
  const int = (min: number, max: number) => (raw: string) => {
    const n = Number(raw);
    return /^\d+$/.test(raw) && n >= min && n <= max ? n : undefined;
  };
  const bool = (raw: string) => ({ true: true, '1': true, false: false, '0': false })[raw.toLowerCase()];

  const config: Config = {
    port: read('PORT', 8080, int(0, 65535), 'a port number 0-65535'),
    host: read('HOST', '127.0.0.1', (raw) => raw, 'a host name or address'),
    dataDir: path.resolve(
      cwd,
      read('SECURECHAT_DATA_DIR', './data', (raw) => raw, 'a folder'),
    ),
    keysDir: path.resolve(
      cwd,
      read('SECURECHAT_KEYS_DIR', './keys', (raw) => raw, 'a folder'),
    ),
    demoUsers: read('SECURECHAT_DEMO_USERS', true, bool, 'true or false'),
    bcryptCost: read('BCRYPT_COST', 12, int(4, 31), 'an integer 4-31'),
    tokenTtl: read('TOKEN_TTL', 3600, parseDuration, 'a duration such as 3600, 90s, 30m, 1h or 1d'),
    presenceGraceMs: read('PRESENCE_GRACE_MS', 30_000, int(0, 86_400_000), 'milliseconds 0-86400000'),
    heartbeatMs: read('SECURECHAT_HEARTBEAT_MS', 15_000, int(10, 15_000), 'milliseconds 10-15000'),
    eventRetentionSeconds: read(
      'SECURECHAT_EVENT_RETENTION',
      7 * 86400,
      parseDuration,
      'a duration such as 7d or 3600',
    ),
    logLevel: read(
      'LOG_LEVEL',
      'info',
      (raw) => (LOG_LEVELS.includes(raw) ? raw : undefined),
      LOG_LEVELS.join('|'),
    ),
    jwtSecret: read<string | undefined>(
      'SECURECHAT_JWT_SECRET',
      undefined,
      (raw) => (Buffer.byteLength(raw) >= 32 ? raw : undefined),
      'at least 32 bytes',
    ),
    bodyLimit: read(
      'SECURECHAT_BODY_LIMIT',
      1024 * 1024,
      // at least one largest message (64 KiB of plaintext is ~90 KB of JSON) must fit
      int(131_072, 1 << 30),
      'bytes 131072-1073741824',
    ),
    notFoundLimit: read(
      'SECURECHAT_NOT_FOUND_LIMIT',
      60,
      int(1, 1_000_000),
      'requests to unknown paths per minute per address',
    ),
    headersTimeoutMs: read(
      'SECURECHAT_HEADERS_TIMEOUT_MS',
      5_000,
      int(100, 600_000),
      'milliseconds 100-600000',
    ),
    requestTimeoutMs: read(
      'SECURECHAT_REQUEST_TIMEOUT_MS',
      30_000,
      int(100, 3_600_000),
      'milliseconds 100-3600000',
    ),
    keepAliveTimeoutMs: read(
      'SECURECHAT_KEEPALIVE_TIMEOUT_MS',
      5_000,
      int(100, 3_600_000),
      'milliseconds 100-3600000',
    ),
    maxConnectionsPerAddress: read(
      'SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS',
      64,
      int(0, 1_000_000),
      'connections per address 0-1000000 (0: no cap)',
    ),
    streamBufferBytes: read(
      'SECURECHAT_STREAM_BUFFER',
      1024 * 1024,
      // at least one largest event (a 64 KiB message is ~90 KB on the wire) must fit
      int(131_072, 1 << 30),
      'bytes 131072-1073741824',
    ),
    sqliteSync: read(
      'SECURECHAT_SQLITE_SYNC',
      'normal',
      (raw): 'normal' | 'full' | undefined => (raw === 'normal' || raw === 'full' ? raw : undefined),
      'normal or full',
    ),
    tls: { mode: 'off' },
    corsOrigins: read(
      'SECURECHAT_CORS_ORIGINS',
      [] as string[],
      parseOrigins,
      'comma-separated origins such as https://chat.example.com',
    ),
    loginLimitPerIp: read('SECURECHAT_LOGIN_LIMIT', 30, int(1, 1_000_000), 'attempts per minute per address'),
    loginFailuresPerUser: read(
      'SECURECHAT_LOGIN_FAILURES_PER_USER',
      50,
      int(1, 1_000_000),
      'failures per 5 minutes',
    ),
    loginFailuresPerUserIp: read(
      'SECURECHAT_LOGIN_FAILURES_PER_USER_IP',
      5,
      int(1, 1_000_000),
      'failures per minute',
    ),
    registerFailuresPerIp: read(
      'SECURECHAT_REGISTER_FAILURES',
      10,
      int(1, 1_000_000),
      'failed registrations per 10 minutes',
    ),
    loginQueue: read('SECURECHAT_LOGIN_QUEUE', 16, int(0, 100_000), 'password checks waiting 0-100000'),
    loginHashesPerIp: read(
      'SECURECHAT_LOGIN_HASHES_PER_IP',
      2,
      int(1, 1000),
      'password checks at once per address',
    ),
    trustProxy: read(
      'SECURECHAT_TRUST_PROXY',
      [] as string[],
      parseProxies,
      'comma-separated proxy addresses or CIDR ranges (or loopback, linklocal, uniquelocal)',
    ),
    postLimit: read('SECURECHAT_POST_LIMIT', 600, int(1, 100_000_000), 'messages per minute per user'),
    commitLimit: read('SECURECHAT_COMMIT_LIMIT', 60, int(1, 100_000_000), 'commits per minute per user'),
    maxStreamsPerUser: read('SECURECHAT_MAX_STREAMS', 5, int(1, 1_000_000), 'streams per user'),
    streamOpensPerMinute: read(
      'SECURECHAT_STREAM_OPEN_LIMIT',
      60,
      int(1, 1_000_000),
      'stream opens per minute per user',
    ),
    streamDrainMs: read('SECURECHAT_STREAM_DRAIN_MS', 30_000, int(100, 600_000), 'milliseconds 100-600000'),
    maxMembersPerChat: read('SECURECHAT_MAX_MEMBERS', 100, int(2, 100_000), 'members per chat'),
    chatCreateLimit: read(
      'SECURECHAT_CHAT_LIMIT',
      30,
      int(1, 1_000_000),
      'chats created per minute per user',
    ),
    membershipLimit: read(
      'SECURECHAT_MEMBERSHIP_LIMIT',
      60,
      int(1, 1_000_000),
      'invitations and leaves per minute per user',
    ),
    maxChatsPerUser: read('SECURECHAT_MAX_CHATS', 1000, int(1, 1_000_000), 'chats per user'),
    historyLimit: read(
      'SECURECHAT_HISTORY_LIMIT',
      600,
      int(1, 100_000_000),
      'history pages per minute per user',
    ),
    historyPageBytes: read(
      'SECURECHAT_HISTORY_PAGE_BYTES',
      4 * 1024 * 1024,
      // at least one largest message must fit
      int(131_072, 1 << 30),
      'bytes 131072-1073741824',
    ),
    rotateMessages: read('SECURECHAT_ROTATE_MESSAGES', 10_000, int(1, 1_000_000_000), 'messages per epoch'),
    rotateSeconds: read(
      'SECURECHAT_ROTATE_SECONDS',
      7 * 86400,
      parseDuration,
      'a duration such as 7d or 3600',
    ),
    pendingSeconds: read('SECURECHAT_PENDING_SECONDS', 60, int(1, 86_400), 'seconds 1-86400'),
    shutdownMs: read('SECURECHAT_SHUTDOWN_MS', 10_000, int(0, 600_000), 'milliseconds'),
    store: { kind: 'sqlite' },
    bus: { kind: 'memory' },
  };
  config.store = readStore(env, problems, read('SECURECHAT_DB_POOL', 10, int(1, 1000), 'connections 1-1000'));
  config.bus = readBus(env, problems);
  const tlsMode = env.SECURECHAT_TLS ?? '';
  const cert = env.SECURECHAT_TLS_CERT;
  const key = env.SECURECHAT_TLS_KEY;
  if (cert || key) {
    if (!cert || !key) problems.push('SECURECHAT_TLS_CERT and SECURECHAT_TLS_KEY go together: set both');
    else config.tls = { mode: 'files', cert: path.resolve(cwd, cert), key: path.resolve(cwd, key) };
  } else if (tlsMode === 'self-signed') config.tls = { mode: 'self-signed' };
  else if (tlsMode !== '' && tlsMode !== 'off') {
    problems.push(`${shown('SECURECHAT_TLS', tlsMode)} is invalid: expected off or self-signed`);
  }
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    problems.push(
      `SECURECHAT_HEADERS_TIMEOUT_MS is invalid: expected at most SECURECHAT_REQUEST_TIMEOUT_MS (${config.requestTimeoutMs})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
