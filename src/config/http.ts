import { int, oneOf, parseOrigins, parseProxies, text } from './parse.js';
import { setting } from './read.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The server and its HTTP: where it listens, what it logs, bodies, timeouts, connections, proxies. */
export const httpSettings = {
  port: setting('PORT', 8080, int(0, 65535), 'a port number 0-65535'),
  host: setting('HOST', '127.0.0.1', text, 'a host name or address'),
  logLevel: setting('LOG_LEVEL', 'info', oneOf(LOG_LEVELS), LOG_LEVELS.join('|')),
  bodyLimit: setting(
    'SECURECHAT_BODY_LIMIT',
    1024 * 1024,
    // at least one largest message (64 KiB of plaintext is ~90 KB of JSON) must fit
    int(131_072, 1 << 30),
    'bytes 131072-1073741824',
  ),
  notFoundLimit: setting(
    'SECURECHAT_NOT_FOUND_LIMIT',
    60,
    int(1, 1_000_000),
    'requests to unknown paths per minute per address',
  ),
  headersTimeoutMs: setting(
    'SECURECHAT_HEADERS_TIMEOUT_MS',
    5_000,
    int(100, 600_000),
    'milliseconds 100-600000',
  ),
  requestTimeoutMs: setting(
    'SECURECHAT_REQUEST_TIMEOUT_MS',
    30_000,
    int(100, 3_600_000),
    'milliseconds 100-3600000',
  ),
  keepAliveTimeoutMs: setting(
    'SECURECHAT_KEEPALIVE_TIMEOUT_MS',
    5_000,
    int(100, 3_600_000),
    'milliseconds 100-3600000',
  ),
  maxConnectionsPerAddress: setting(
    'SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS',
    64,
    int(0, 1_000_000),
    'connections per address 0-1000000 (0: no cap)',
  ),
  corsOrigins: setting(
    'SECURECHAT_CORS_ORIGINS',
    [] as string[],
    parseOrigins,
    'comma-separated origins such as https://chat.example.com',
  ),
  trustProxy: setting(
    'SECURECHAT_TRUST_PROXY',
    [] as string[],
    parseProxies,
    'comma-separated proxy addresses or CIDR ranges (or loopback, linklocal, uniquelocal)',
  ),
  shutdownMs: setting('SECURECHAT_SHUTDOWN_MS', 10_000, int(0, 600_000), 'milliseconds'),
};
