import { createPublicKey, type KeyObject, randomBytes, randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import bcrypt from 'bcrypt';
import { localCounter } from '../bus/memory-counters.js';
import type { SharedCounter } from '../bus/types.js';
import {
  canonicalPem,
  checkPublicKeySet,
  fingerprint,
  type PublicKeySet,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from '../crypto/keys.js';
import { timestamp } from '../crypto/time.js';
import { Errors, rateLimited } from '../errors.js';
import type { KeyChange } from '../store/account-types.js';
import type { Store } from '../store/types.js';
import type { UserRecord } from '../store/user-types.js';
import { type Metrics, NO_METRICS, resultOf } from '../util/metrics.js';
import type { Hasher } from './hash-pool.js';
import { addressKey, threadPoolSize, WorkQueue } from './limiter.js';

/** bcrypt reads at most 72 bytes; a longer password would be silently truncated, so it is refused. */
export const MAX_PASSWORD_BYTES = 72;
export const MIN_PASSWORD_LENGTH = 8;
export const USERNAME = /^[a-z0-9][a-z0-9_.-]{0,31}$/;
/** Names that paths take for the caller (`PUT /users/me/keys`): never a user's. */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set(['me']);

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
  removed: boolean;
  changes: KeyChange[];
}

export interface AccountsDeps {
  store: Store;
  bcryptCost: number;
  tokenTtlSeconds: number;
  /** Login attempts allowed per username (any address) in 5 minutes, and per username and address in 1. */
  failuresPerUser: number;
  failuresPerUserAndAddress: number;
  /** Password checks that may wait for a hashing slot (more get 503), and that one address may have at once. */
  hashQueue: number;
  hashesPerAddress: number;
  /** bcrypt comparisons at once (default: half of libuv's pool and of the CPUs). */
  hashSlots?: number;
  /** Signs a JWT with the pinned algorithm, iss, aud and exp (the auth plugin provides it). */
  signToken: (claims: { sub: string; jti: string; exp: number }) => string;
  /** Where failures are counted: the bus's shared counters; in this process when not given. */
  counter?: (name: string, limit: number, windowMs: number) => SharedCounter;
  /** bcrypt, replaceable so tests can count and hold hashes (or hash-pool.ts's threads). */
  hasher?: Hasher;
  /** Counts each login's outcome. */
  metrics?: Metrics;
}

const USER_WINDOW_MS = 5 * 60_000;
const KNOWN_ADDRESS_MS = 30 * 24 * 3600_000;

export function createAccounts({
  store,
  bcryptCost,
  tokenTtlSeconds,
  signToken,
  failuresPerUser,
  failuresPerUserAndAddress,
  hashQueue,
  hashesPerAddress,
  hashSlots,
  counter = localCounter,
  hasher = bcrypt,
  metrics = NO_METRICS,
}: AccountsDeps) {
  // Attempts are counted when they start and given back when they succeed or were never
  // compared: what remains counted is failures and comparisons still in flight.
  const userAttempts = counter('login-failures-user', failuresPerUser, USER_WINDOW_MS);
  const pairAttempts = counter('login-failures-user-address', failuresPerUserAndAddress, 60_000);
  // Addresses (/64 for IPv6) this user logged in from in the last 30 days. While the username is
  // over its limit only they may still try (each within its own per-address limit): guesses from
  // many addresses stay capped by the per-username limit, and its owner is not kept out.
  const knownAddresses = counter('login-known-address', 1, KNOWN_ADDRESS_MS);
  // bcrypt gets at most half of libuv's pool and half of the CPUs: a login storm must not starve
  // signature verification or delivery.
  const hashing = new WorkQueue(
    hashSlots ?? Math.max(1, Math.floor(Math.min(threadPoolSize(), availableParallelism()) / 2)),
    hashQueue,
    hashesPerAddress,
  );
  // Unknown users are compared against a hash at the configured cost; users whose hash has another
  // cost (BCRYPT_COST changed) are re-hashed at their next login, and until then a failure on a
  // lower-cost hash also pays one comparison at the configured cost. (A hash at a higher cost than
  // the configured one still takes longer to fail: lowering BCRYPT_COST shows who has not logged in.)
  const dummyHash = hasher.hash(randomBytes(16).toString('hex'), bcryptCost);
  // Public keys are parsed once per change: a change (here or on another instance: the bus says)
  // forgets them, and a read that began before a change is not kept.
  const keyCache = new Map<string, ParsedKeys>();
  const forgottenAt = new Map<string, number>();
  let generations = 0;
  let clearedAt = 0;

  function forget(username?: string): void {
    generations += 1;
    if (username === undefined) {
      keyCache.clear();
      clearedAt = generations;
    } else {
      keyCache.delete(username);
      forgottenAt.set(username, generations);
    }
  }

  async function keysOf(username: string): Promise<ParsedKeys | undefined> {
    const cached = keyCache.get(username);
    if (cached) return cached;
    const started = generations;
    const user = await store.getUser(username);
    if (!user) return undefined;
    const signing = Object.fromEntries(
      SIGNATURE_ALGORITHMS.map((alg) => [alg, createPublicKey(user.keys.signing[alg])]),
    ) as Record<SignatureAlgorithm, KeyObject>;
    const encryption = createPublicKey(user.keys.encryption);
    const parsed: ParsedKeys = {
      encryption,
      signing,
      // served as canonical SPKI PEM, also for keys stored before registration re-exported them
      pems: {
        encryption: canonicalPem(encryption),
        signing: {
          'rsa-pss-sha256': canonicalPem(signing['rsa-pss-sha256']),
          'dsa-sha256': canonicalPem(signing['dsa-sha256']),
          ed25519: canonicalPem(signing.ed25519),
        },
      },
      fingerprints: {
        encryption: fingerprint(encryption),
        'rsa-pss-sha256': fingerprint(signing['rsa-pss-sha256']),
        'dsa-sha256': fingerprint(signing['dsa-sha256']),
        ed25519: fingerprint(signing.ed25519),
      },
      removed: !!user.removedAt,
      changes: user.keyChanges ?? [],
    };
    if ((forgottenAt.get(username) ?? 0) <= started && clearedAt <= started) keyCache.set(username, parsed);
    return parsed;
  }

  /**
   * The record a registration stores, after every check (username, password rules, public keys:
   * {@link RegistrationError}, KeyCheckError) and the password's hashing; stores nothing.
   */
  async function newUser(username: string, password: string, keys: PublicKeySet): Promise<UserRecord> {
    if (!USERNAME.test(username)) throw new RegistrationError(`username must match ${USERNAME.source}`);
    if (RESERVED_USERNAMES.has(username)) throw new RegistrationError(`the username ${username} is reserved`);
    checkNewPassword(password);
    const canonical = await checkPublicKeySet(keys);
    return {
      username,
      passwordHash: await hashing.run(() => hasher.hash(password, bcryptCost)),
      keys: canonical,
      createdAt: timestamp(),
      lastSeen: null,
    };
  }

  /**
   * The password check of a login (and of a password or key change): same 401, same work, for an
   * unknown (or removed) user and a wrong password. Each attempt is counted before its password is
   * checked, per username and address (5 a minute) and per username (50 in five minutes); past the
   * per-username limit only an address this user logged in from before may still try. A success
   * resets the first count and gives its attempt back to the second; an attempt refused or failed
   * before its comparison started (a limit, a full queue, the store or Redis failing, the client
   * gone: `signal`) gives back everything it counted.
   */
  async function verifyPassword(
    username: string,
    password: string,
    ip: string,
    signal?: AbortSignal,
  ): Promise<UserRecord> {
    const address = addressKey(ip);
    const pair = `${username}\n${address}`;
    const taken: [SharedCounter, string][] = [];
    const take = async (attempts: SharedCounter, key: string) => {
      const wait = await attempts.take(key);
      taken.push([attempts, key]);
      return wait;
    };
    let compared = false;
    let user: UserRecord | undefined;
    let matches: boolean;
    try {
      const pairWait = await take(pairAttempts, pair);
      if (pairWait > 0)
        throw rateLimited(
          `Too many failed logins for ${username} from this address; try again later.`,
          pairWait,
        );
      const userWait = await take(userAttempts, username);
      if (userWait > 0 && !((await knownAddresses.blockedFor(pair)) > 0))
        throw rateLimited(`Too many failed logins for ${username}; try again later.`, userWait);
      const found = await store.getUser(username);
      user = found && !found.removedAt ? found : undefined;
      const hash = user?.passwordHash ?? (await dummyHash);
      matches = await hashing.run(
        () => {
          compared = true;
          return hasher.compare(password, hash);
        },
        { key: address, signal },
      );
    } catch (error) {
      // never compared: every count this attempt made is given back (best effort: a counter
      // that cannot be reached now keeps it until its window ends)
      if (!compared) await Promise.allSettled(taken.map(([attempts, key]) => attempts.give(key)));
      throw error;
    }
    if (!user || !matches || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
      // a hash at a lower cost than the configured one (BCRYPT_COST was raised) is padded to
      // the cost of a configured-cost comparison, so its failure looks like any other
      if (user && hasher.getRounds(user.passwordHash) < bcryptCost)
        await hashing.run(async () => hasher.compare(password, await dummyHash)).catch(() => false);
      throw new Errors.INVALID_CREDENTIALS();
    }
    await Promise.all([
      pairAttempts.reset(pair),
      userAttempts.give(username),
      knownAddresses.reset(pair).then(() => knownAddresses.hit(pair)),
    ]);
    if (hasher.getRounds(user.passwordHash) !== bcryptCost) {
      // best effort: when it cannot be done now (busy, store away), the next login tries again
      await hashing
        .run(() => hasher.hash(password, bcryptCost))
        .then((rehashed) => store.replacePasswordHash(username, user.passwordHash, rehashed))
        .catch(() => {});
    }
    return user;
  }

  return {
    newUser,

    async register(username: string, password: string, keys: PublicKeySet): Promise<void> {
      await store.createUser(await newUser(username, password, keys));
    },

    /** Logs in (see `login` above), counting what came of it. */
    async login(username: string, password: string, ip = '', signal?: AbortSignal) {
      try {
        const user = await verifyPassword(username, password, ip, signal);
        const sessionId = randomUUID();
        const exp = Math.floor(Date.now() / 1000) + tokenTtlSeconds;
        const expiresAt = exp * 1000;
        // a password change, logout everywhere, reset or removal since the user was read: refused
        if (!(await store.recordSession(sessionId, username, expiresAt, user.sessionGeneration ?? 0)))
          throw new Errors.INVALID_CREDENTIALS();
        const token = signToken({ sub: username, jti: sessionId, exp });
        metrics.login('success');
        return { token, username, sessionId, expiresAt };
      } catch (error) {
        metrics.login(resultOf(error));
        throw error;
      }
    },

    verifyPassword: (username: string, password: string, ip = '', signal?: AbortSignal) =>
      verifyPassword(username, password, ip, signal),

    /** A new password's hash, after the registration rules ({@link RegistrationError}). */
    async hashNewPassword(password: string): Promise<string> {
      checkNewPassword(password);
      return hashing.run(() => hasher.hash(password, bcryptCost));
    },

    /** Forgets the parsed keys of `username` (of everyone: none given); they changed. */
    forget,

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
        changes: keys.changes,
        ...(keys.removed ? { removed: true as const } : {}),
      };
    },

    /** A user who may be invited: registered and not removed. */
    async active(username: string): Promise<boolean> {
      const keys = await keysOf(username);
      return keys !== undefined && !keys.removed;
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
