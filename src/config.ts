import path from 'node:path';
import { accountSettings } from './config/accounts.js';
import { chatSettings } from './config/chats.js';
import { httpSettings } from './config/http.js';
import { metricsSettings } from './config/metrics.js';
import { type Env, readSettings, shown } from './config/read.js';
import { type BusConfig, readBus, readStore, type StoreConfig, storageSettings } from './config/storage.js';
import { streamSettings } from './config/streams.js';

// The configuration: the tables of settings (one per concern under config/, each variable with its
// default, parser and expectation) read into one object, and the settings that depend on each other.

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
  /** The Prometheus metrics' own listener (`/metrics`): off when no port is set; the loopback by default. */
  metricsPort?: number;
  metricsHost: string;
  store: StoreConfig;
  bus: BusConfig;
}

/** The most one member's envelope takes in a commit's body (8192-bit RSA wrap and signature). */
const COMMIT_BYTES_PER_MEMBER = 3072;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** HTTPS: off, a certificate made once, or the operator's files (the two go together). */
function readTls(env: Env, cwd: string, problems: string[]): Config['tls'] {
  const mode = env.SECURECHAT_TLS ?? '';
  const cert = env.SECURECHAT_TLS_CERT;
  const key = env.SECURECHAT_TLS_KEY;
  if (cert || key) {
    if (cert && key) return { mode: 'files', cert: path.resolve(cwd, cert), key: path.resolve(cwd, key) };
    problems.push('SECURECHAT_TLS_CERT and SECURECHAT_TLS_KEY go together: set both');
  } else if (mode === 'self-signed') return { mode: 'self-signed' };
  else if (mode !== '' && mode !== 'off') {
    problems.push(`${shown('SECURECHAT_TLS', mode)} is invalid: expected off or self-signed`);
  }
  return { mode: 'off' };
}

/**
 * Reads and checks every variable; a wrong one is named in one line of the `ConfigError` (all of
 * them at once), with its value unless that may be a secret.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const storage = readSettings(env, storageSettings, problems);
  const config: Config = {
    ...readSettings(env, httpSettings, problems),
    ...storage,
    dataDir: path.resolve(cwd, storage.dataDir),
    keysDir: path.resolve(cwd, storage.keysDir),
    ...readSettings(env, accountSettings, problems),
    ...readSettings(env, streamSettings, problems),
    ...readSettings(env, chatSettings, problems),
    ...readSettings(env, metricsSettings, problems),
    store: readStore(env, problems),
    bus: readBus(env, problems),
    tls: readTls(env, cwd, problems),
  };
  if (config.headersTimeoutMs > config.requestTimeoutMs) {
    problems.push(
      `SECURECHAT_HEADERS_TIMEOUT_MS is invalid: expected at most SECURECHAT_REQUEST_TIMEOUT_MS (${config.requestTimeoutMs})`,
    );
  }
  if (config.metricsPort !== undefined && config.metricsPort !== 0 && config.metricsPort === config.port) {
    problems.push(
      `SECURECHAT_METRICS_PORT is invalid: expected a port other than PORT (${config.port}); the metrics have a listener of their own`,
    );
  }
  // A members-mode commit carries one envelope per member (up to ~3 KiB with an 8192-bit RSA key):
  // a body limit too small for a full chat would leave such a chat unable to take a new key.
  const commitBytes = COMMIT_BYTES_PER_MEMBER * config.maxMembersPerChat + 4096;
  if (config.bodyLimit < commitBytes) {
    problems.push(
      `SECURECHAT_BODY_LIMIT is invalid: a members-mode commit for SECURECHAT_MAX_MEMBERS (${config.maxMembersPerChat}) members needs at least ${commitBytes}`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
