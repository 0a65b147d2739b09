import { bool, int, minBytes, parseDuration } from './parse.js';
import { setting } from './read.js';

/** Accounts: demo users, password hashing, tokens and their secret, the limits on logins and registrations. */
export const accountSettings = {
  demoUsers: setting('SECURECHAT_DEMO_USERS', true, bool, 'true or false'),
  bcryptCost: setting('BCRYPT_COST', 12, int(4, 31), 'an integer 4-31'),
  tokenTtl: setting('TOKEN_TTL', 3600, parseDuration, 'a duration such as 3600, 90s, 30m, 1h or 1d'),
  jwtSecret: setting<string | undefined>(
    'SECURECHAT_JWT_SECRET',
    undefined,
    minBytes(32),
    'at least 32 bytes',
  ),
  loginLimitPerIp: setting(
    'SECURECHAT_LOGIN_LIMIT',
    30,
    int(1, 1_000_000),
    'attempts per minute per address',
  ),
  loginFailuresPerUser: setting(
    'SECURECHAT_LOGIN_FAILURES_PER_USER',
    50,
    int(1, 1_000_000),
    'failures per 5 minutes',
  ),
  loginFailuresPerUserIp: setting(
    'SECURECHAT_LOGIN_FAILURES_PER_USER_IP',
    5,
    int(1, 1_000_000),
    'failures per minute',
  ),
  registerFailuresPerIp: setting(
    'SECURECHAT_REGISTER_FAILURES',
    10,
    int(1, 1_000_000),
    'failed registrations per 10 minutes',
  ),
  loginQueue: setting('SECURECHAT_LOGIN_QUEUE', 16, int(0, 100_000), 'password checks waiting 0-100000'),
  loginHashesPerIp: setting(
    'SECURECHAT_LOGIN_HASHES_PER_IP',
    2,
    int(1, 1000),
    'password checks at once per address',
  ),
};
