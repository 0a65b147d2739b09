import type Database from 'better-sqlite3';
import { type Row, toRegistrationCode, toUser } from '../rows.js';
import {
  type CodedRegistration,
  type CodeHold,
  type RegistrationCode,
  UserExistsError,
  type UserRecord,
  type UserStore,
} from '../user-types.js';
import type { Statements } from './statements.js';

/** SQLite's users and sessions: accounts, revoked tokens, registration codes. */
export class SqliteUsers implements UserStore {
  constructor(
    private readonly db: Database.Database,
    private readonly q: Statements,
  ) {}

  async createUser(user: UserRecord): Promise<void> {
    try {
      this.insertUser(user);
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new UserExistsError(`user ${user.username} already exists`);
      }
      throw error;
    }
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const row = this.q.getUser.get(username) as Row | undefined;
    return row && toUser(row);
  }

  async listUsers() {
    return (this.q.listUsers.all() as Row[]).map((r) => ({
      username: r.username as string,
      lastSeen: (r.last_seen as string | null) ?? null,
    }));
  }

  async setLastSeen(username: string, at: string): Promise<void> {
    this.q.setLastSeen.run(at, username);
  }

  async replacePasswordHash(username: string, previous: string, next: string): Promise<void> {
    this.q.replaceHash.run(next, username, previous);
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    this.q.revoke.run(jti, expiresAt);
  }

  async isTokenRevoked(jti: string): Promise<boolean> {
    return this.q.isRevoked.get(jti) !== undefined;
  }

  private insertUser(user: UserRecord): void {
    this.q.insertUser.run(
      user.username,
      user.passwordHash,
      JSON.stringify(user.keys),
      user.createdAt,
      user.lastSeen,
    );
  }

  // Registration is rare: its statements are prepared when used.
  async putRegistrationCode(code: RegistrationCode): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO registration_codes (username, code_hash, created_at, expires_at, used_at)
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET code_hash = excluded.code_hash,
         created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at,
         reserved_until = NULL, reserved_by = NULL`,
      )
      .run(code.username, code.codeHash, code.createdAt, code.expiresAt, code.usedAt);
  }

  async reserveRegistrationCode({ username, codeHash, holder, now, until }: CodeHold): Promise<boolean> {
    const held = this.db
      .prepare(
        `UPDATE registration_codes SET reserved_until = ?, reserved_by = ?
         WHERE username = ? AND code_hash = ? AND used_at IS NULL AND expires_at > ?
           AND (reserved_until IS NULL OR reserved_until <= ?)`,
      )
      .run(until, holder, username, codeHash, now, now);
    return held.changes === 1;
  }

  async releaseRegistrationCode(username: string, holder: string): Promise<void> {
    this.db
      .prepare(
        `UPDATE registration_codes SET reserved_until = NULL, reserved_by = NULL
         WHERE username = ? AND reserved_by = ?`,
      )
      .run(username, holder);
  }

  async getRegistrationCode(username: string): Promise<RegistrationCode | undefined> {
    const row = this.db.prepare('SELECT * FROM registration_codes WHERE username = ?').get(username);
    return row ? toRegistrationCode(row as Row) : undefined;
  }

  async listRegistrationCodes(): Promise<RegistrationCode[]> {
    const rows = this.db.prepare('SELECT * FROM registration_codes ORDER BY username').all() as Row[];
    return rows.map(toRegistrationCode);
  }

  async deleteRegistrationCode(username: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM registration_codes WHERE username = ?').run(username).changes > 0;
  }

  async createUserWithCode(
    user: UserRecord,
    codeHash: string,
    now: string,
    holder?: string,
  ): Promise<CodedRegistration> {
    const consume = this.db.prepare(
      `UPDATE registration_codes SET used_at = ?, reserved_until = NULL, reserved_by = NULL
       WHERE username = ? AND code_hash = ? AND used_at IS NULL AND expires_at > ?
         AND (reserved_by IS NULL OR reserved_by = ? OR reserved_until <= ?)`,
    );
    const register = this.db.transaction((): CodedRegistration => {
      if (consume.run(now, user.username, codeHash, now, holder ?? null, now).changes !== 1)
        return 'invalid-code';
      // thrown, not returned: the code's use is rolled back with it
      if (this.q.getUser.get(user.username)) throw new UserExistsError(user.username);
      this.insertUser(user);
      return 'created';
    });
    try {
      // IMMEDIATE: the write lock first, so another connection cannot read the code unused meanwhile
      return register.immediate();
    } catch (error) {
      if (error instanceof UserExistsError) return 'username-taken';
      throw error;
    }
  }
}
