import { createPublicKey, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import type { SharedCounter } from '../bus/types.js';
import {
  checkPublicKeySet,
  fingerprint,
  type PublicKeySet,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from '../crypto/keys.js';
import { timestamp } from '../crypto/time.js';
import { Errors, rateLimited } from '../errors.js';
import type { Store, UserRecord } from '../store/types.js';
import { localCounter, Semaphore } from './limiter.js';

/** bcrypt reads at most 72 bytes; a longer password would be silently truncated, so it is refused. */
export const MAX_PASSWORD_BYTES = 72;
export const MIN_PASSWORD_LENGTH = 8;
export const USERNAME = /^[a-z0-9][a-z0-9_.-]{0,31}$/;

export class RegistrationError extends Error {}

export function checkNewPassword(password: string): void {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new RegistrationError(
      `password is over ${MAX_PASSWORD_BYTES} UTF-8 bytes (bcrypt would truncate it)`,
    );
  }
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new RegistrationError(`password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}

interface ParsedKeys {
  encryption: KeyObject;
  signing: Record<SignatureAlgorithm, KeyObject>;
  fingerprints: Record<'encryption' | SignatureAlgorithm, string>;
  pems: PublicKeySet;
}

export interface AccountsDeps {
  store: Store;
  bcryptCost: number;
  tokenTtlSeconds: number;
  /** Failed logins allowed per username (any address) in 5 minutes, and per username and address in 1. */
  failuresPerUser?: number;
  failuresPerUserAndAddress?: number;
  /** Signs a JWT with the pinned algorithm, iss, aud and exp (the auth plugin provides it). */
  signToken: (claims: { sub: string; jti: string; exp: number }) => string;
  /** Where failures are counted: the bus's shared counters; in this process when not given. */
  counter?: (name: string, limit: number, windowMs: number) => SharedCounter;
}

export function createAccounts({
  store,
  bcryptCost,
  tokenTtlSeconds,
  signToken,
  failuresPerUser = 50,
  failuresPerUserAndAddress = 5,
  counter = localCounter,
}: AccountsDeps) {
  const userFailures = counter('login-failures-user', failuresPerUser, 5 * 60_000);
  // bcrypt gets at most half of libuv's pool (4 threads unless UV_THREADPOOL_SIZE says otherwise)
  // and half of the CPUs: a login storm must not starve signature verification or delivery.
  const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const hashing = new Semaphore(Math.max(1, Math.floor(Math.min(pool, availableParallelism()) / 2)));
  const userAddressFailures = counter('login-failures-user-address', failuresPerUserAndAddress, 60_000);
  // Unknown users are compared against this hash, so both failures cost one bcrypt comparison.
  const dummyHash = bcrypt.hash(randomBytes(16).toString('hex'), bcryptCost);
  // Public keys never change once registered: parse each once.
  const keyCache = new Map<string, ParsedKeys>();

  async function keysOf(username: string): Promise<ParsedKeys | undefined> {
    const cached = keyCache.get(username);
    if (cached) return cached;
    const user = await store.getUser(username);
    if (!user) return undefined;
    const signing = Object.fromEntries(
      SIGNATURE_ALGORITHMS.map((alg) => [alg, createPublicKey(user.keys.signing[alg])]),
    ) as Record<SignatureAlgorithm, KeyObject>;
    const encryption = createPublicKey(user.keys.encryption);
    const parsed: ParsedKeys = {
      encryption,
      signing,
      pems: user.keys,
      fingerprints: {
        encryption: fingerprint(encryption),
        'rsa-pss-sha256': fingerprint(signing['rsa-pss-sha256']),
        'dsa-sha256': fingerprint(signing['dsa-sha256']),
        ed25519: fingerprint(signing.ed25519),
      },
    };
    keyCache.set(username, parsed);
    return parsed;
  }

  return {
    async register(username: string, password: string, keys: PublicKeySet): Promise<void> {
      if (!USERNAME.test(username)) throw new RegistrationError(`username must match ${USERNAME.source}`);
      checkNewPassword(password);
      await checkPublicKeySet(keys);
      const user: UserRecord = {
        username,
        passwordHash: await hashing.run(() => bcrypt.hash(password, bcryptCost)),
        keys,
        createdAt: timestamp(),
        lastSeen: null,
      };
      await store.createUser(user);
    },

    /**
     * Same 401, same work, for an unknown user and a wrong password. Failures are counted per
     * username and address (a guesser is slowed at once) and per username (a distributed guesser
     * is slowed too, for at most five minutes after it stops).
     */
    async login(username: string, password: string, address = '') {
      const pair = `${username}\n${address}`;
      const wait = Math.max(
        ...(await Promise.all([userAddressFailures.blockedFor(pair), userFailures.blockedFor(username)])),
      );
      if (wait > 0) throw rateLimited(`Too many failed logins for ${username}; try again later.`, wait);
      const user = await store.getUser(username);
      const hash = user?.passwordHash ?? (await dummyHash);
      const matches = await hashing.run(() => bcrypt.compare(password, hash));
      if (!user || !matches || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
        await Promise.all([userAddressFailures.hit(pair), userFailures.hit(username)]);
        throw new Errors.INVALID_CREDENTIALS();
      }
      await userAddressFailures.reset(pair);
      const sessionId = randomUUID();
      const exp = Math.floor(Date.now() / 1000) + tokenTtlSeconds;
      const token = signToken({ sub: username, jti: sessionId, exp });
      const expiresAt = exp * 1000;
      return { token, username, sessionId, expiresAt };
    },

    async exists(username: string): Promise<boolean> {
      return (await keysOf(username)) !== undefined;
    },

    async publicKeys(username: string) {
      const keys = await keysOf(username);
      if (!keys) throw new Errors.USER_NOT_FOUND(username);
      return {
        username,
        encryptionKey: keys.pems.encryption,
        signingKeys: keys.pems.signing,
        fingerprints: keys.fingerprints,
      };
    },

    async encryptionKey(username: string): Promise<KeyObject | undefined> {
      return (await keysOf(username))?.encryption;
    },

    async signingKey(username: string, alg: SignatureAlgorithm): Promise<KeyObject | undefined> {
      return (await keysOf(username))?.signing[alg];
    },

    async revoke(sessionId: string, expiresAt: number): Promise<void> {
      await store.revokeToken(sessionId, expiresAt);
    },

    isRevoked: (sessionId: string) => store.isTokenRevoked(sessionId),
  };
}

export type Accounts = ReturnType<typeof createAccounts>;
