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
import { addressKey, localCounter, WorkQueue } from './limiter.js';

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
  /** Login attempts allowed per username (any address) in 5 minutes, and per username and address in 1. */
  failuresPerUser?: number;
  failuresPerUserAndAddress?: number;
  /** Password checks that may wait for a hashing slot (more get 503), and that one address may have at once. */
  hashQueue?: number;
  hashesPerAddress?: number;
  /** bcrypt comparisons at once (default: half of libuv's pool and of the CPUs). */
  hashSlots?: number;
  /** Signs a JWT with the pinned algorithm, iss, aud and exp (the auth plugin provides it). */
  signToken: (claims: { sub: string; jti: string; exp: number }) => string;
  /** Where failures are counted: the bus's shared counters; in this process when not given. */
  counter?: (name: string, limit: number, windowMs: number) => SharedCounter;
  /** bcrypt, replaceable so tests can count and hold hashes. */
  hasher?: Pick<typeof bcrypt, 'hash' | 'compare' | 'getRounds'>;
}

const USER_WINDOW_MS = 5 * 60_000;

export function createAccounts({
  store,
  bcryptCost,
  tokenTtlSeconds,
  signToken,
  failuresPerUser = 50,
  failuresPerUserAndAddress = 5,
  hashQueue = 16,
  hashesPerAddress = 2,
  hashSlots,
  counter = localCounter,
  hasher = bcrypt,
}: AccountsDeps) {
  // Attempts are counted when they start and given back when they succeed: what remains counted
  // is failures and attempts still in flight.
  const userAttempts = counter('login-failures-user', failuresPerUser, USER_WINDOW_MS);
  const pairAttempts = counter('login-failures-user-address', failuresPerUserAndAddress, 60_000);
  // While a username is over its limit, an address that has not failed for it in five minutes
  // still gets one attempt, so guessing from elsewhere cannot keep its owner out.
  const recentFailures = counter('login-recent-failures-user-address', 1, USER_WINDOW_MS);
  // bcrypt gets at most half of libuv's pool (4 threads unless UV_THREADPOOL_SIZE says otherwise)
  // and half of the CPUs: a login storm must not starve signature verification or delivery.
  const pool = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const hashing = new WorkQueue(
    hashSlots ?? Math.max(1, Math.floor(Math.min(pool, availableParallelism()) / 2)),
    hashQueue,
    hashesPerAddress,
  );
  // Unknown users are compared against a hash at the configured cost, and users whose hash has
  // another cost (BCRYPT_COST changed) are re-hashed at their next login: every failure costs the same.
  const dummyHash = hasher.hash(randomBytes(16).toString('hex'), bcryptCost);
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
        passwordHash: await hashing.run(() => hasher.hash(password, bcryptCost)),
        keys,
        createdAt: timestamp(),
        lastSeen: null,
      };
      await store.createUser(user);
    },

    /**
     * Same 401, same work, for an unknown user and a wrong password. Each attempt is counted before
     * its password is checked, per username and address (5 a minute) and per username (50 in five
     * minutes); a success resets the first and gives its attempt back to the second. `signal` says
     * the client has gone: a check still waiting for its turn is then dropped.
     */
    async login(username: string, password: string, ip = '', signal?: AbortSignal) {
      const address = addressKey(ip);
      const pair = `${username}\n${address}`;
      const pairWait = await pairAttempts.take(pair);
      if (pairWait > 0)
        throw rateLimited(
          `Too many failed logins for ${username} from this address; try again later.`,
          pairWait,
        );
      const userWait = await userAttempts.take(username);
      if (userWait > 0) {
        const lockedWait = await recentFailures.take(pair);
        if (lockedWait > 0)
          throw rateLimited(`Too many failed logins for ${username}; try again later.`, lockedWait);
      }
      const user = await store.getUser(username);
      const hash = user?.passwordHash ?? (await dummyHash);
      let matches: boolean;
      try {
        matches = await hashing.run(() => hasher.compare(password, hash), { key: address, signal });
      } catch (error) {
        // never evaluated (queue full, too many at once, client gone): the attempts are given back
        await Promise.all([pairAttempts.give(pair), userAttempts.give(username)]);
        throw error;
      }
      if (!user || !matches || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
        await recentFailures.hit(pair);
        throw new Errors.INVALID_CREDENTIALS();
      }
      await Promise.all([pairAttempts.reset(pair), recentFailures.reset(pair), userAttempts.give(username)]);
      if (hasher.getRounds(user.passwordHash) !== bcryptCost) {
        // best effort: when it cannot be done now (busy, store away), the next login tries again
        await hashing
          .run(() => hasher.hash(password, bcryptCost))
          .then((rehashed) => store.replacePasswordHash(username, user.passwordHash, rehashed))
          .catch(() => {});
      }
      const sessionId = randomUUID();
      const exp = Math.floor(Date.now() / 1000) + tokenTtlSeconds;
      const token = signToken({ sub: username, jti: sessionId, exp });
      const expiresAt = exp * 1000;
      return { token, username, sessionId, expiresAt };
    },

    /** Password checks running and waiting for a slot. */
    hashing: () => hashing.size,

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
