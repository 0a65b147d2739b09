import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { localCounter } from '../bus/memory-counters.js';
import type { SharedCounter } from '../bus/types.js';
import { KeyCheckError, type PublicKeySet } from '../crypto/keys.js';
import { timestamp } from '../crypto/time.js';
import { Errors, rateLimited } from '../errors.js';
import type { RegistrationCode, Store } from '../store/types.js';
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
  /** Wrong codes one address may send in 10 minutes; the next attempts get 429. */
  failuresPerAddress: number;
  counter?: (name: string, limit: number, windowMs: number) => SharedCounter;
}

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

  return {
    async register(input: SelfRegistration, ip: string) {
      const { username, password } = input;
      const address = addressKey(ip);
      // counted before the code is checked (parallel guesses cannot all pass a check made first);
      // given back when the code was right
      const wait = await failures.take(address);
      if (wait > 0) throw rateLimited('Too many wrong registration codes from this address.', wait);
      let hash: string | undefined;
      try {
        hash = await validCode(username, input.code);
      } catch (error) {
        await failures.give(address).catch(() => {}); // never checked (the store failed): not a wrong code
        throw error;
      }
      if (!hash) throw new Errors.INVALID_CODE();
      await failures.give(address);

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
      const result = await store.createUserWithCode(user, hash, timestamp());
      if (result === 'invalid-code') throw new Errors.INVALID_CODE();
      if (result === 'username-taken') throw new Errors.USERNAME_TAKEN(username);
      return { username, fingerprints: (await accounts.publicKeys(username)).fingerprints };
    },
  };
}

export type Registration = ReturnType<typeof createRegistration>;
