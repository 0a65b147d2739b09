import type { PublicKeySet } from '../crypto/keys.js';
import type { KeyChange } from './account-types.js';

/** The port's users and sessions: accounts, revoked tokens and one-time registration codes. */
export interface UserStore {
  createUser(user: UserRecord): Promise<void>;
  getUser(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<{ username: string; lastSeen: string | null }[]>;
  setLastSeen(username: string, at: string): Promise<void>;
  /** Replaces a password hash only if it is still `previous` (a re-hash at another bcrypt cost). */
  replacePasswordHash(username: string, previous: string, next: string): Promise<void>;

  revokeToken(jti: string, expiresAt: number): Promise<void>;
  isTokenRevoked(jti: string): Promise<boolean>;

  /** Makes the registration code for `username`, replacing any earlier one. */
  putRegistrationCode(code: RegistrationCode): Promise<void>;
  getRegistrationCode(username: string): Promise<RegistrationCode | undefined>;
  /** Every code, used and expired ones included, by username. */
  listRegistrationCodes(): Promise<RegistrationCode[]>;
  /** Deletes the code for `username`; false when there was none. */
  deleteRegistrationCode(username: string): Promise<boolean>;
  /**
   * Holds the code of `username` for the request `holder` until `until`, in one conditional write,
   * if it has `codeHash`, is unused, expires after `now` and nobody else holds it (a hold that
   * ended by `now` is nobody's). Of concurrent calls, on any instance, one at most answers true.
   */
  reserveRegistrationCode(hold: CodeHold): Promise<boolean>;
  /** Lets go of `holder`'s hold on the code of `username`, if it still has it. */
  releaseRegistrationCode(username: string, holder: string): Promise<void>;
  /**
   * In one transaction: marks the code of `user.username` used if it still has `codeHash`, is
   * unused, expires after `now` and nobody but `holder` holds it, and creates the user. Of two
   * concurrent calls with one code, one at most answers `created`; on any other answer nothing changed.
   */
  createUserWithCode(
    user: UserRecord,
    codeHash: string,
    now: string,
    holder?: string,
  ): Promise<CodedRegistration>;
}

/** One request's hold on a registration code while it checks the rest of the registration. */
export interface CodeHold {
  username: string;
  codeHash: string;
  holder: string;
  now: string;
  until: string;
}

/** A one-time registration code: only the SHA-256 (hex) of the code itself is kept. */
export interface RegistrationCode {
  username: string;
  codeHash: string;
  createdAt: string;
  expiresAt: string;
  usedAt: string | null;
}

export type CodedRegistration = 'created' | 'invalid-code' | 'username-taken';

export interface UserRecord {
  username: string;
  passwordHash: string;
  keys: PublicKeySet;
  createdAt: string;
  lastSeen: string | null;
  /** Set once the administrator removed the user: logins are refused, the name is never reused. */
  removedAt?: string | null;
  /** Moved on by every revocation of the user's sessions: a login under an older one records nothing. */
  sessionGeneration?: number;
  /** The user's key changes, oldest first (absent: none). */
  keyChanges?: KeyChange[];
}

export class UserExistsError extends Error {}
