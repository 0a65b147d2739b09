import type { KeyEnvelope } from '../../crypto/envelope.js';
import type { PublicKeySet } from '../../crypto/keys.js';
import type { AccountStore, KeyUpdate, ResetCode, RevokedSession } from '../account-types.js';
import type { StoredEvent } from '../message-types.js';
import { toRegistrationCode } from '../rows.js';
import { type Client, PoolQueries } from './pool.js';
import { postgresWrites } from './writes.js';

/** PostgreSQL's accounts over time: sessions, key changes, reset codes, removals. */
export class PostgresAccounts extends PoolQueries implements AccountStore {
  async recordSession(
    jti: string,
    username: string,
    expiresAt: number,
    generation: number,
  ): Promise<boolean> {
    // the user's row locked (FOR SHARE): a revocation under way is waited for, then seen
    const rows = await this.rows(
      `INSERT INTO sessions (jti, username, expires_at)
       SELECT $1, username, $3 FROM users
       WHERE username = $2 AND session_generation = $4 AND removed_at IS NULL FOR SHARE
       ON CONFLICT (jti) DO NOTHING RETURNING jti`,
      [jti, username, expiresAt, generation],
    );
    return rows.length > 0;
  }

  async revokeSessions(username: string, now: number, keep?: string): Promise<RevokedSession[]> {
    return this.transaction(async (client) => {
      // first, the user's row locked: a login whose password check came before records nothing after
      await this.exec(
        'UPDATE users SET session_generation = session_generation + 1 WHERE username = $1',
        [username],
        client,
      );
      await this.exec(
        'DELETE FROM sessions WHERE username = $1 AND expires_at < $2',
        [username, now],
        client,
      );
      const rows = await this.rows(
        'DELETE FROM sessions WHERE username = $1 AND jti IS DISTINCT FROM $2 RETURNING jti, expires_at',
        [username, keep ?? null],
        client,
      );
      const sessions = rows.map((r) => ({ jti: r.jti as string, expiresAt: Number(r.expires_at) }));
      if (sessions.length > 0)
        await this.exec(
          `INSERT INTO revoked_tokens (jti, expires_at) SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (jti) DO NOTHING`,
          [sessions.map((s) => s.jti), sessions.map((s) => s.expiresAt)],
          client,
        );
      return sessions;
    });
  }

  async setPasswordHash(username: string, hash: string): Promise<void> {
    await this.exec('UPDATE users SET password_hash = $1 WHERE username = $2', [hash, username]);
  }

  async replaceKeys(update: KeyUpdate): Promise<StoredEvent | undefined> {
    return this.transaction(async (client) => {
      const [row] = await this.rows(
        'SELECT keys, key_changes FROM users WHERE username = $1 AND removed_at IS NULL FOR UPDATE',
        [update.username],
        client,
      );
      if (!row || JSON.stringify(JSON.parse(row.keys as string)) !== JSON.stringify(update.previous))
        return undefined;
      const code = update.resetCode;
      if (code && !(await this.useCode(update.username, code.codeHash, code.now, client))) return undefined;
      const changes = [...JSON.parse(row.key_changes as string), update.change];
      await this.exec(
        'UPDATE users SET keys = $1, key_changes = $2, password_hash = COALESCE($3, password_hash), rekey_pending = true WHERE username = $4',
        [JSON.stringify(update.keys), JSON.stringify(changes), update.passwordHash ?? null, update.username],
        client,
      );
      const [stored] = await postgresWrites(client).insertEvents([update.event], new Date().toISOString());
      return stored;
    });
  }

  async markRemoved(username: string, at: string): Promise<boolean> {
    const set = await this.exec(
      'UPDATE users SET removed_at = $1, removal_pending = true WHERE username = $2 AND removed_at IS NULL',
      [at, username],
    );
    return set.rowCount === 1;
  }

  async pendingRemovals(): Promise<string[]> {
    const rows = await this.rows('SELECT username FROM users WHERE removal_pending');
    return rows.map((r) => r.username as string);
  }

  async removalDone(username: string): Promise<void> {
    await this.exec('UPDATE users SET removal_pending = false WHERE username = $1', [username]);
  }

  async pendingRekeys(): Promise<string[]> {
    const rows = await this.rows('SELECT username FROM users WHERE rekey_pending');
    return rows.map((r) => r.username as string);
  }

  async rekeyDone(username: string, keys: PublicKeySet): Promise<void> {
    await this.exec('UPDATE users SET rekey_pending = false WHERE username = $1 AND keys = $2', [
      username,
      JSON.stringify(keys),
    ]);
  }

  async putResetCode(code: ResetCode): Promise<void> {
    await this.exec(
      `INSERT INTO reset_codes (username, code_hash, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (username) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at,
       expires_at = excluded.expires_at, used_at = excluded.used_at`,
      [code.username, code.codeHash, code.createdAt, code.expiresAt, code.usedAt],
    );
  }

  async getResetCode(username: string): Promise<ResetCode | undefined> {
    const [row] = await this.rows('SELECT * FROM reset_codes WHERE username = $1', [username]);
    return row ? toRegistrationCode(row) : undefined;
  }

  async useResetCode(username: string, codeHash: string, now: string): Promise<boolean> {
    return this.useCode(username, codeHash, now);
  }

  private async useCode(username: string, codeHash: string, now: string, client?: Client): Promise<boolean> {
    const used = await this.exec(
      `UPDATE reset_codes SET used_at = $1 WHERE username = $2 AND code_hash = $3 AND used_at IS NULL
         AND expires_at > $1`,
      [now, username, codeHash],
      client,
    );
    return used.rowCount === 1;
  }

  async putEnvelopes(envelopes: KeyEnvelope[]): Promise<void> {
    if (envelopes.length === 0) return;
    await this.exec(
      `INSERT INTO envelopes (chat_id, epoch, recipient, wrapped_key, issued_at, server_signature)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])
       ON CONFLICT (chat_id, epoch, recipient) DO UPDATE SET wrapped_key = excluded.wrapped_key,
         issued_at = excluded.issued_at, server_signature = excluded.server_signature`,
      [
        envelopes.map((e) => e.chatId),
        envelopes.map((e) => e.epoch),
        envelopes.map((e) => e.recipient),
        envelopes.map((e) => e.wrappedKey),
        envelopes.map((e) => e.issuedAt),
        envelopes.map((e) => e.serverSignature),
      ],
    );
  }
}
