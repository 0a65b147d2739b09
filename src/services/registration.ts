import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { localCounter } from '../bus/memory-counters.js';
import type { SharedCounter } from '../bus/types.js';
import { KeyCheckError, type PublicKeySet } from '../crypto/keys.js';
import { timestamp } from '../crypto/time.js';
import { Errors, rateLimited } from '../errors.js';
import type { Store } from '../store/types.js';
import type { RegistrationCode } from '../store/user-types.js';
import { type Accounts, RegistrationError } from './accounts.js';
import { addressKey } from './limiter.js';

/** 144 random bits: guessing is hopeless, so a plain SHA-256 of the code is a safe thing to store. */
const CODE_BYTES = 18;
export const DEFAULT_CODE_TTL_SECONDS = 24 * 3600;
const FAILURE_WINDOW_MS = 10 * 60_000;
/** Compared against when a username has no code, so that having one does not show in the timing. */
const NO_CODE = '0'.repeat(64);

export const hashRegistrationCode = (code: string): string =>
  createHash('sha256').update(code, 'utf8').digest('hex');

/** Makes (or replaces) the one-time code for `username`; the code itself is returned, never stored. */
export async function inviteUser(
  store: Store,
  username: string,
  ttlSeconds = DEFAULT_CODE_TTL_SECONDS,
  now = Date.now(),
): Promise<{ code: string; record: RegistrationCode }> {
  const code = randomBytes(CODE_BYTES).toString('base64url');
  const record: RegistrationCode = {
    username,
    codeHash: hashRegistrationCode(code),
    createdAt: timestamp(new Date(now)),
    expiresAt: timestamp(new Date(now + ttlSeconds * 1000)),
    usedAt: null,
  };
  await store.putRegistrationCode(record);
  return { code, record };
}

export interface SelfRegistration {
  username: string;
  password: string;
  code: string;
  encryptionKey: string;
  signingKeys: PublicKeySet['signing'];
}

export interface RegistrationDeps {
  store: Store;
  accounts: Accounts;
  /** Failed registrations (wrong codes among them) one address may make in 10 minutes; then 429. */
  failuresPerAddress: number;
  counter?: (name: string, limit: number, windowMs: number) => SharedCounter;
}

/**
 * How long a request holds a good code while it checks the rest of the registration (keys,
 * password, hashing: seconds at most). A holder that crashes leaves the code to others after this.
 */
const CODE_HOLD_MS = 60_000;

/** A refusal of what the client sent (4xx), as opposed to the server failing (an outage, busy). */
const refusal = (error: unknown) => {
  const status = (error as { statusCode?: number }).statusCode;
  return status !== undefined && status >= 400 && status < 500;
};

/**
 * `POST /users`: a user registers the public halves of keys made on their own device, with the
 * one-time code an administrator made for that username. Every bad code gets the same 403.
 */
export function createRegistration({
  store,
  accounts,
  failuresPerAddress,
  counter = localCounter,
}: RegistrationDeps) {
  const failures = counter('registration-failures-address', failuresPerAddress, FAILURE_WINDOW_MS);

  /** The code's hash when it is this username's, unused and unexpired (compared in constant time). */
  async function validCode(username: string, code: string): Promise<string | undefined> {
    const hash = hashRegistrationCode(code);
    const stored = await store.getRegistrationCode(username);
    const same = timingSafeEqual(Buffer.from(hash, 'hex'), Buffer.from(stored?.codeHash ?? NO_CODE, 'hex'));
    return stored && same && stored.usedAt === null && stored.expiresAt > timestamp() ? hash : undefined;
  }

  /**
   * Holds the code, then checks the rest and creates the user. Only one request at a time holds a
   * code, on any instance: the others are answered as for a used code before any costly check.
   * On any failure the hold is let go, so the code stays usable.
   */
  async function registerWithCode(input: SelfRegistration) {
    const { username, password } = input;
    const hash = await validCode(username, input.code);
    if (!hash) throw new Errors.INVALID_CODE();
    const holder = randomUUID();
    const now = Date.now();
    const held = await store.reserveRegistrationCode({
      username,
      codeHash: hash,
      holder,
      now: timestamp(new Date(now)),
      until: timestamp(new Date(now + CODE_HOLD_MS)),
    });
    if (!held) throw new Errors.INVALID_CODE();
    let created = false;
    try {
      if (await accounts.exists(username)) throw new Errors.USERNAME_TAKEN(username);
      let user: Awaited<ReturnType<Accounts['newUser']>>;
      try {
        user = await accounts.newUser(username, password, {
          encryption: input.encryptionKey,
          signing: input.signingKeys,
        });
      } catch (error) {
        if (error instanceof KeyCheckError) throw new Errors.INVALID_KEY(error.message);
        if (error instanceof RegistrationError) throw new Errors.INVALID_BODY(error.message);
        throw error;
      }
      const result = await store.createUserWithCode(user, hash, timestamp(), holder);
      if (result === 'invalid-code') throw new Errors.INVALID_CODE();
      if (result === 'username-taken') throw new Errors.USERNAME_TAKEN(username);
      created = true;
    } finally {
      // best effort: a hold that cannot be let go now ends by itself
      if (!created) await store.releaseRegistrationCode(username, holder).catch(() => {});
    }
    return { username, fingerprints: (await accounts.publicKeys(username)).fingerprints };
  }

  return {
    /**
     * Every attempt is counted against the client's address before the code is checked (parallel
     * guesses cannot all pass a check made first), and given back only when it registers, or when
     * the server failed rather than the request: a good code with bad keys, a bad password or a
     * taken name counts as a failure too, so a code cannot buy unlimited key checks.
     */
    async register(input: SelfRegistration, ip: string) {
      const address = addressKey(ip);
      const wait = await failures.take(address);
      if (wait > 0) throw rateLimited('Too many failed registrations from this address.', wait);
      let registered: Awaited<ReturnType<typeof registerWithCode>>;
      try {
        registered = await registerWithCode(input);
      } catch (error) {
        if (!refusal(error)) await failures.give(address).catch(() => {});
        throw error;
      }
      await failures.give(address).catch(() => {});
      return registered;
    },
  };
}

export type Registration = ReturnType<typeof createRegistration>;
