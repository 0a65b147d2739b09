import { createPublicKey, randomBytes, timingSafeEqual } from 'node:crypto';
import { localCounter } from '../bus/memory-counters.js';
import type { Fanout, SharedCounter } from '../bus/types.js';
import { fromBase64 } from '../crypto/base64.js';
import { keyChangeSigningText } from '../crypto/key-change.js';
import { type PublicKeySet, SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../crypto/keys.js';
import { verifyAsync } from '../crypto/signatures.js';
import { parseTimestamp, timestamp } from '../crypto/time.js';
import { Errors, rateLimited } from '../errors.js';
import type { Continuity, KeyChange, KeyUpdate, ResetCode } from '../store/account-types.js';
import type { Store } from '../store/types.js';
import type { UserRecord } from '../store/user-types.js';
import type { Accounts } from './accounts.js';
import type { Chats } from './chats.js';
import { chatEvent, publishEvents } from './events.js';
import { keyChangeEpochs } from './key-change-epochs.js';
import type { KeyRewrapper } from './key-escrow.js';
import { addressKey } from './limiter.js';
import { checkedKeys, checkPassword, fingerprintsOf, type NewKeys } from './new-keys.js';
import type { Presence } from './presence.js';
import { DEFAULT_CODE_TTL_SECONDS, hashRegistrationCode } from './registration.js';

export interface AccountChangesDeps {
  store: Store;
  accounts: Accounts;
  presence: Presence;
  chats: Chats;
  bus: Fanout;
  rewrap: KeyRewrapper;
  /** Failed resets one address may make in 10 minutes (as for registrations); then 429. */
  failuresPerAddress: number;
  counter?: (name: string, limit: number, windowMs: number) => SharedCounter;
  audit?: (event: string, fields: Record<string, unknown>) => void;
  onError?: (error: unknown, fields: Record<string, unknown>) => void;
}

interface Session {
  username: string;
  sessionId: string;
  expiresAt: number;
}

const CODE_BYTES = 18;
const NO_CODE = '0'.repeat(64);
const FAILURE_WINDOW_MS = 10 * 60_000;
/** Key replacements one user may make in an hour: each makes a new epoch in every chat of theirs. */
const KEY_CHANGES_PER_HOUR = 5;

/** Makes (or replaces) the one-time reset code of `username`; the code itself is returned, never stored. */
export async function makeResetCode(
  store: Store,
  username: string,
  ttlSeconds = DEFAULT_CODE_TTL_SECONDS,
  now = Date.now(),
): Promise<{ code: string; record: ResetCode }> {
  const code = randomBytes(CODE_BYTES).toString('base64url');
  const record: ResetCode = {
    username,
    codeHash: hashRegistrationCode(code),
    createdAt: timestamp(new Date(now)),
    expiresAt: timestamp(new Date(now + ttlSeconds * 1000)),
    usedAt: null,
  };
  await store.putResetCode(record);
  return { code, record };
}

/**
 * Accounts over time (protocol.md): password changes, logging out everywhere, replacing keys,
 * resets with an administrator's code, and the removal of a user the administrator marked.
 */
export function createAccountChanges({
  store,
  accounts,
  presence,
  chats,
  bus,
  rewrap,
  failuresPerAddress,
  counter = localCounter,
  audit = () => {},
  onError = () => {},
}: AccountChangesDeps) {
  const epochs = keyChangeEpochs({ store, chats, rewrap, onError });
  const keyChanges = counter('key-changes-user', KEY_CHANGES_PER_HOUR, 3600_000);
  const resetFailures = counter('reset-failures-address', failuresPerAddress, FAILURE_WINDOW_MS);

  /** Ends every session of `username` but `keep`: revoked, and their streams closed on every instance. */
  async function endSessions(username: string, keep?: string): Promise<number> {
    const revoked = await store.revokeSessions(username, Date.now(), keep);
    for (const session of revoked) await presence.ended(session.jti, username);
    return revoked.length;
  }

  /** Everyone who shares a chat with `username`, and `username`: who hears of their key change. */
  async function audienceOf(username: string, chatIds: string[]): Promise<string[]> {
    const names = new Set([username]);
    for (const chatId of chatIds) {
      for (const m of (await store.getChat(chatId))?.members ?? []) names.add(m.username);
    }
    return [...names];
  }

  /**
   * Stores the new keys and the change (marking the user's chats for new epochs) and tells everyone
   * concerned; the caller then makes the epochs ({@link KeyChangeEpochs.afterChange}).
   */
  async function changeKeys(
    user: UserRecord,
    keys: PublicKeySet,
    change: Omit<KeyChange, 'at' | 'fingerprints' | 'previous'>,
    passwordHash?: string,
    resetCode?: KeyUpdate['resetCode'],
  ) {
    const { username } = user;
    const fingerprints = fingerprintsOf(keys);
    const full: KeyChange = {
      at: timestamp(),
      fingerprints,
      previous: { fingerprints: fingerprintsOf(user.keys), signingKeys: user.keys.signing },
      ...change,
    };
    const chatIds = await store.chatIdsOf(username);
    const data = { username, fingerprints, change: full };
    const stored = await store.replaceKeys({
      username,
      previous: user.keys,
      keys,
      change: full,
      passwordHash,
      event: chatEvent('account.keys', data, await audienceOf(username, chatIds)),
      resetCode,
    });
    // a reset's code is used with the change, in one transaction: nothing written, it was not usable
    if (!stored) throw resetCode ? new Errors.INVALID_CODE() : new Errors.KEYS_CHANGED();
    accounts.forget(username);
    await bus.publish({ kind: 'user-changed', username });
    await publishEvents(bus, [stored]);
    audit('keys.changed', { username, by: change.by });
    const changed: UserRecord = { ...user, keys, keyChanges: [...(user.keyChanges ?? []), full] };
    return { username, fingerprints, changed };
  }

  async function currentUser(username: string): Promise<UserRecord> {
    const user = await store.getUser(username);
    if (!user || user.removedAt) throw new Errors.INVALID_CREDENTIALS();
    return user;
  }

  /** A key replacement, once its rate is checked (see `replaceKeys`). */
  async function replace(
    username: string,
    input: NewKeys & { currentPassword: string; continuity: Continuity },
    ip: string,
  ) {
    await accounts.verifyPassword(username, input.currentPassword, ip);
    const user = await currentUser(username);
    const keys = await checkedKeys(input);
    const { signatureAlgorithm, signature, issuedAt } = input.continuity;
    const alg = signatureAlgorithm as SignatureAlgorithm;
    const bytes = fromBase64(signature);
    if (!SIGNATURE_ALGORITHMS.includes(alg) || !bytes || parseTimestamp(issuedAt) === undefined)
      throw new Errors.BAD_SIGNATURE('continuity must be a signature by a current signing key.');
    const text = Buffer.from(keyChangeSigningText(username, fingerprintsOf(keys), issuedAt), 'utf8');
    if (!(await verifyAsync(alg, createPublicKey(user.keys.signing[alg]), text, bytes)))
      throw new Errors.BAD_SIGNATURE(
        `continuity does not verify under your current ${alg} key over the new keys' fingerprints.`,
      );
    const { changed, ...answer } = await changeKeys(user, keys, {
      continuity: { signatureAlgorithm: alg, signature, issuedAt },
      by: 'user',
    });
    await epochs.afterChange(changed);
    return answer;
  }

  return {
    endSessions,

    /** The jobs: new epochs a key change has not made yet (a chat's rekey failed). */
    completeRekeys: epochs.completeRekeys,

    async changePassword(session: Session, currentPassword: string, newPassword: string, ip: string) {
      checkPassword(newPassword);
      await accounts.verifyPassword(session.username, currentPassword, ip);
      await store.setPasswordHash(session.username, await accounts.hashNewPassword(newPassword));
      const ended = await endSessions(session.username, session.sessionId);
      audit('password.changed', { username: session.username, sessionsEnded: ended });
    },

    async logoutEverywhere(session: Session) {
      await accounts.revoke(session.sessionId, session.expiresAt);
      const ended = await endSessions(session.username);
      await presence.ended(session.sessionId, session.username);
      audit('logout.everywhere', { username: session.username, sessionsEnded: ended + 1 });
    },

    /**
     * `PUT /users/me/keys`: the current password, new keys, and a continuity signature by a current
     * key; at most {@link KEY_CHANGES_PER_HOUR} made an hour (each rekeys every chat of the user).
     */
    async replaceKeys(
      session: Session,
      input: NewKeys & { currentPassword: string; continuity: Continuity },
      ip: string,
    ) {
      const { username } = session;
      const wait = await keyChanges.take(username);
      if (wait > 0) throw rateLimited('Too many key changes; try again later.', wait);
      try {
        return await replace(username, input, ip);
      } catch (error) {
        // only changes made count
        await keyChanges.give(username).catch(() => {});
        throw error;
      }
    },

    /**
     * `PUT /users/{username}/keys` with a reset code: every wrong, used or expired code (and a
     * name with no code, or removed) is one 403, counted per address like a failed registration.
     */
    async resetKeys(username: string, input: NewKeys & { code: string; newPassword?: string }, ip: string) {
      const address = addressKey(ip);
      const wait = await resetFailures.take(address);
      if (wait > 0) throw rateLimited('Too many failed resets from this address.', wait);
      try {
        const hash = hashRegistrationCode(input.code);
        const stored = await store.getResetCode(username);
        const same = timingSafeEqual(
          Buffer.from(hash, 'hex'),
          Buffer.from(stored?.codeHash ?? NO_CODE, 'hex'),
        );
        const user = await store.getUser(username);
        if (
          !stored ||
          !same ||
          stored.usedAt !== null ||
          stored.expiresAt <= timestamp() ||
          !user ||
          user.removedAt
        )
          throw new Errors.INVALID_CODE();
        const keys = await checkedKeys(input);
        let passwordHash: string | undefined;
        if (input.newPassword !== undefined) {
          checkPassword(input.newPassword);
          passwordHash = await accounts.hashNewPassword(input.newPassword);
        }
        const code = { codeHash: hash, now: timestamp() };
        const { changed, ...answer } = await changeKeys(
          user,
          keys,
          { continuity: null, by: 'administrator' },
          passwordHash,
          code,
        );
        // whoever held the old keys is out before any new epoch is made
        const ended = await endSessions(username);
        audit('keys.reset', { username, sessionsEnded: ended });
        await resetFailures.give(address).catch(() => {});
        await epochs.afterChange(changed);
        return answer;
      } catch (error) {
        const status = (error as { statusCode?: number }).statusCode;
        if (!(status !== undefined && status >= 400 && status < 500))
          await resetFailures.give(address).catch(() => {});
        throw error;
      }
    },

    /**
     * Completes the removals the administrator marked (`user:remove`): every session ends, and the
     * user leaves every chat (a new epoch for each, as a leave makes). Run by every instance's
     * jobs; doing it twice does nothing more.
     */
    async completeRemovals(): Promise<string[]> {
      const done: string[] = [];
      for (const username of await store.pendingRemovals()) {
        accounts.forget(username);
        await bus.publish({ kind: 'user-changed', username });
        await endSessions(username);
        for (const chatId of await store.chatIdsOf(username)) {
          await chats.depart(chatId, username).catch((error) => {
            if ((error as { code?: string }).code !== 'CHAT_NOT_FOUND') throw error;
          });
        }
        await store.removalDone(username);
        audit('user.removed', { username });
        done.push(username);
      }
      return done;
    },
  };
}

export type AccountChanges = ReturnType<typeof createAccountChanges>;
