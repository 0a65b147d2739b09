import type { KeyEnvelope } from '../crypto/envelope.js';
import type { PublicKeySet, SignatureAlgorithm } from '../crypto/keys.js';
import type { NewEvent, StoredEvent } from './message-types.js';

/**
 * The port's accounts over time (protocol.md, "Accounts over time"): the sessions of each user
 * (so that all of them can end at once), password and key changes, reset codes and removals.
 */
export interface AccountStore {
  /**
   * Records a session made at login, so that "every session of this user" can be found; only
   * while the user is not removed and their session generation is still `generation` (read before
   * the password check: no revocation came between). False, and nothing recorded, otherwise.
   */
  recordSession(jti: string, username: string, expiresAt: number, generation: number): Promise<boolean>;
  /**
   * Revokes every session of `username` that has not expired by `now` (ms), but `keep`; answers
   * those it revoked. Sessions that expired are forgotten.
   */
  revokeSessions(username: string, now: number, keep?: string): Promise<RevokedSession[]>;
  setPasswordHash(username: string, hash: string): Promise<void>;
  /**
   * In one transaction, if the user's keys are still `previous` and the user is not removed:
   * replaces the keys (and the password hash, when given), appends `change` to the user's key
   * changes and stores `event`. Undefined when the keys had changed meanwhile (nothing written).
   */
  replaceKeys(update: KeyUpdate): Promise<StoredEvent | undefined>;
  /** Marks the user removed (logins refused, the name kept forever) and the removal to complete. */
  markRemoved(username: string, at: string): Promise<boolean>;
  /** Removed users whose chats the server has not yet taken them out of. */
  pendingRemovals(): Promise<string[]>;
  /** The removal of `username` is complete: every chat left. */
  removalDone(username: string): Promise<void>;
  /**
   * Users whose key change (`replaceKeys` marks it) may have left a chat on an epoch their old
   * keys open: the jobs give each such chat its new epoch.
   */
  pendingRekeys(): Promise<string[]>;
  /** Every chat of `username` has an epoch made after the change to `keys` (a later change keeps the mark). */
  rekeyDone(username: string, keys: PublicKeySet): Promise<void>;
  /** Makes (or replaces) the reset code of `username`. */
  putResetCode(code: ResetCode): Promise<void>;
  getResetCode(username: string): Promise<ResetCode | undefined>;
  /** Marks the code used if it still has `codeHash`, is unused and expires after `now`; whether it did. */
  useResetCode(username: string, codeHash: string, now: string): Promise<boolean>;
  /** Stores server envelopes, replacing any of the same chat, epoch and recipient (a re-wrap). */
  putEnvelopes(envelopes: KeyEnvelope[]): Promise<void>;
}

export interface RevokedSession {
  jti: string;
  expiresAt: number;
}

export type Fingerprints = Record<'encryption' | SignatureAlgorithm, string>;

export interface Continuity {
  signatureAlgorithm: SignatureAlgorithm;
  signature: string;
  issuedAt: string;
}

/** One step of a user's keys, as `GET /users/{username}/keys` lists it in `changes`. */
export interface KeyChange {
  at: string;
  fingerprints: Fingerprints;
  previous: { fingerprints: Fingerprints; signingKeys: PublicKeySet['signing'] };
  continuity: Continuity | null;
  by: 'user' | 'administrator';
}

export interface KeyUpdate {
  username: string;
  /** The stored keys this change replaces (as the store holds them). */
  previous: PublicKeySet;
  keys: PublicKeySet;
  change: KeyChange;
  passwordHash?: string;
  event: NewEvent;
  /** A reset: its code, used in the same transaction (nothing written when it is not usable at `now`). */
  resetCode?: { codeHash: string; now: string };
}

/** A one-time reset code (`user:reset`): only the SHA-256 (hex) of the code itself is kept. */
export interface ResetCode {
  username: string;
  codeHash: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}
