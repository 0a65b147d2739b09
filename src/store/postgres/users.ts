import { toRegistrationCode, toUser } from '../rows.js';
import {
  type CodedRegistration,
  type CodeHold,
  type RegistrationCode,
  UserExistsError,
  type UserRecord,
  type UserStore,
} from '../user-types.js';
import { batchedLookups } from './lookups.js';
import { PoolQueries, UNIQUE_VIOLATION } from './pool.js';

/** PostgreSQL's users and sessions: accounts, revoked tokens, registration codes. */
export class PostgresUsers extends PoolQueries implements UserStore {
  async createUser(user: UserRecord): Promise<void> {
    try {
      await this.exec(
        'INSERT INTO users (username, password_hash, keys, created_at, last_seen) VALUES ($1, $2, $3, $4, $5)',
        [user.username, user.passwordHash, JSON.stringify(user.keys), user.createdAt, user.lastSeen],
      );
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
        throw new UserExistsError(`user ${user.username} already exists`);
      }
      throw error;
    }
  }

  async getUser(username: string): Promise<UserRecord | undefined> {
    const [row] = await this.rows('SELECT * FROM users WHERE username = $1', [username]);
    return row && toUser(row);
  }

  async listUsers() {
    const rows = await this.rows('SELECT username, last_seen FROM users ORDER BY username');
    return rows.map((r) => ({
      username: r.username as string,
      lastSeen: (r.last_seen as string | null) ?? null,
    }));
  }

  async setLastSeen(username: string, at: string): Promise<void> {
    await this.exec('UPDATE users SET last_seen = $1 WHERE username = $2', [at, username]);
  }

  async replacePasswordHash(username: string, previous: string, next: string): Promise<void> {
    await this.exec('UPDATE users SET password_hash = $1 WHERE username = $2 AND password_hash = $3', [
      next,
      username,
      previous,
    ]);
  }

  async revokeToken(jti: string, expiresAt: number): Promise<void> {
    await this.exec(
      'INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING',
      [jti, expiresAt],
    );
  }

  /** Batched with the checks asked meanwhile (lookups.ts): one statement, sent after this call. */
  private readonly lookups = batchedLookups(this.pool);

  async isTokenRevoked(jti: string): Promise<boolean> {
    return this.lookups.isTokenRevoked(jti);
  }

  async putRegistrationCode(code: RegistrationCode): Promise<void> {
    await this.exec(
      `INSERT INTO registration_codes (username, code_hash, created_at, expires_at, used_at)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO UPDATE SET code_hash = excluded.code_hash,
       created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at,
       reserved_until = NULL, reserved_by = NULL`,
      [code.username, code.codeHash, code.createdAt, code.expiresAt, code.usedAt],
    );
  }

  async reserveRegistrationCode({ username, codeHash, holder, now, until }: CodeHold): Promise<boolean> {
    // one statement: a concurrent hold waits for this row's lock, then finds the code held
    const { rowCount } = await this.exec(
      `UPDATE registration_codes SET reserved_until = $1, reserved_by = $2
       WHERE username = $3 AND code_hash = $4 AND used_at IS NULL AND expires_at > $5
         AND (reserved_until IS NULL OR reserved_until <= $5)`,
      [until, holder, username, codeHash, now],
    );
    return rowCount === 1;
  }

  async releaseRegistrationCode(username: string, holder: string): Promise<void> {
    await this.exec(
      `UPDATE registration_codes SET reserved_until = NULL, reserved_by = NULL
       WHERE username = $1 AND reserved_by = $2`,
      [username, holder],
    );
  }

  async getRegistrationCode(username: string): Promise<RegistrationCode | undefined> {
    const [row] = await this.rows('SELECT * FROM registration_codes WHERE username = $1', [username]);
    return row && toRegistrationCode(row);
  }

  async listRegistrationCodes(): Promise<RegistrationCode[]> {
    return (await this.rows('SELECT * FROM registration_codes ORDER BY username')).map(toRegistrationCode);
  }

  async deleteRegistrationCode(username: string): Promise<boolean> {
    const { rowCount } = await this.exec('DELETE FROM registration_codes WHERE username = $1', [username]);
    return (rowCount ?? 0) > 0;
  }

  async createUserWithCode(
    user: UserRecord,
    codeHash: string,
    now: string,
    holder?: string,
  ): Promise<CodedRegistration> {
    try {
      return await this.transaction(async (client): Promise<CodedRegistration> => {
        // the row lock makes a concurrent use of the same code wait, then find it used
        const used = await client.query(
          `UPDATE registration_codes SET used_at = $1, reserved_until = NULL, reserved_by = NULL
           WHERE username = $2 AND code_hash = $3 AND used_at IS NULL AND expires_at > $1
             AND (reserved_by IS NULL OR reserved_by = $4 OR reserved_until <= $1)`,
          [now, user.username, codeHash, holder ?? null],
        );
        if (used.rowCount !== 1) return 'invalid-code';
        const created = await client.query(
          `INSERT INTO users (username, password_hash, keys, created_at, last_seen)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING`,
          [user.username, user.passwordHash, JSON.stringify(user.keys), user.createdAt, user.lastSeen],
        );
        // thrown, not returned: the code's use is rolled back with it
        if (created.rowCount !== 1) throw new UserExistsError(user.username);
        return 'created';
      });
    } catch (error) {
      if (error instanceof UserExistsError) return 'username-taken';
      throw error;
    }
  }
}
