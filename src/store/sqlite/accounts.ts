import type Database from 'better-sqlite3';
import type { KeyEnvelope } from '../../crypto/envelope.js';
import type { PublicKeySet } from '../../crypto/keys.js';
import type { AccountStore, KeyUpdate, ResetCode, RevokedSession } from '../account-types.js';
import type { StoredEvent } from '../message-types.js';
import { type Row, toRegistrationCode } from '../rows.js';
import type { ChatRecipients } from './recipients.js';
import type { Statements } from './statements.js';
import { sqliteWrites } from './writes.js';

/** SQLite's accounts over time: sessions, key changes, reset codes, removals. Rare writes: prepared when used. */
export class SqliteAccounts implements AccountStore {
  constructor(
    private readonly db: Database.Database,
    private readonly q: Statements,
    private readonly recipients: ChatRecipients,
  ) {}

  async recordSession(
    jti: string,
    username: string,
    expiresAt: number,
    generation: number,
  ): Promise<boolean> {
    const { changes } = this.db
      .prepare(
        `INSERT OR IGNORE INTO sessions (jti, username, expires_at) SELECT ?, ?, ? WHERE EXISTS
         (SELECT 1 FROM users WHERE username = ? AND session_generation = ? AND removed_at IS NULL)`,
      )
      .run(jti, username, expiresAt, username, generation);
    return changes > 0;
  }

  async revokeSessions(username: string, now: number, keep?: string): Promise<RevokedSession[]> {
    const revoke = this.db.transaction(() => {
      // a login whose password check came before this records no session after it
      this.db
        .prepare('UPDATE users SET session_generation = session_generation + 1 WHERE username = ?')
        .run(username);
      this.db.prepare('DELETE FROM sessions WHERE username = ? AND expires_at < ?').run(username, now);
      const sessions = (
        this.db
          .prepare('SELECT jti, expires_at FROM sessions WHERE username = ? AND jti IS NOT ?')
          .all(username, keep ?? null) as Row[]
      ).map((r) => ({ jti: r.jti as string, expiresAt: Number(r.expires_at) }));
      for (const s of sessions) this.q.revoke.run(s.jti, s.expiresAt);
      this.db.prepare('DELETE FROM sessions WHERE username = ? AND jti IS NOT ?').run(username, keep ?? null);
      return sessions;
    });
    return revoke.immediate();
  }

  async setPasswordHash(username: string, hash: string): Promise<void> {
    this.db.prepare('UPDATE users SET password_hash = ? WHERE username = ?').run(hash, username);
  }

  async replaceKeys(update: KeyUpdate): Promise<StoredEvent | undefined> {
    const writes = sqliteWrites(this.q, this.recipients);
    const replace = this.db.transaction((): StoredEvent | undefined => {
      const row = this.db
        .prepare('SELECT keys, key_changes FROM users WHERE username = ? AND removed_at IS NULL')
        .get(update.username) as Row | undefined;
      if (!row || JSON.stringify(JSON.parse(row.keys as string)) !== JSON.stringify(update.previous))
        return undefined;
      const code = update.resetCode;
      if (code && !this.useCode(update.username, code.codeHash, code.now)) return undefined;
      const changes = [...JSON.parse(row.key_changes as string), update.change];
      this.db
        .prepare(
          'UPDATE users SET keys = ?, key_changes = ?, password_hash = COALESCE(?, password_hash), rekey_pending = 1 WHERE username = ?',
        )
        .run(
          JSON.stringify(update.keys),
          JSON.stringify(changes),
          update.passwordHash ?? null,
          update.username,
        );
      const [stored] = writes.insertEvents([update.event], new Date().toISOString()) as StoredEvent[];
      return stored;
    });
    return replace.immediate();
  }

  async markRemoved(username: string, at: string): Promise<boolean> {
    const set = this.db
      .prepare(
        'UPDATE users SET removed_at = ?, removal_pending = 1 WHERE username = ? AND removed_at IS NULL',
      )
      .run(at, username);
    return set.changes === 1;
  }

  async pendingRemovals(): Promise<string[]> {
    const rows = this.db.prepare('SELECT username FROM users WHERE removal_pending = 1').all() as Row[];
    return rows.map((r) => r.username as string);
  }

  async removalDone(username: string): Promise<void> {
    this.db.prepare('UPDATE users SET removal_pending = 0 WHERE username = ?').run(username);
  }

  async pendingRekeys(): Promise<string[]> {
    const rows = this.db.prepare('SELECT username FROM users WHERE rekey_pending = 1').all() as Row[];
    return rows.map((r) => r.username as string);
  }

  async rekeyDone(username: string, keys: PublicKeySet): Promise<void> {
    this.db
      .prepare('UPDATE users SET rekey_pending = 0 WHERE username = ? AND keys = ?')
      .run(username, JSON.stringify(keys));
  }

  async putResetCode(code: ResetCode): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO reset_codes (username, code_hash, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (username) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at,
         expires_at = excluded.expires_at, used_at = excluded.used_at`,
      )
      .run(code.username, code.codeHash, code.createdAt, code.expiresAt, code.usedAt);
  }

  async getResetCode(username: string): Promise<ResetCode | undefined> {
    const row = this.db.prepare('SELECT * FROM reset_codes WHERE username = ?').get(username);
    return row ? toRegistrationCode(row as Row) : undefined;
  }

  async useResetCode(username: string, codeHash: string, now: string): Promise<boolean> {
    return this.useCode(username, codeHash, now);
  }

  private useCode(username: string, codeHash: string, now: string): boolean {
    const used = this.db
      .prepare(
        `UPDATE reset_codes SET used_at = ? WHERE username = ? AND code_hash = ? AND used_at IS NULL
           AND expires_at > ?`,
      )
      .run(now, username, codeHash, now);
    return used.changes === 1;
  }

  async putEnvelopes(envelopes: KeyEnvelope[]): Promise<void> {
    const put = this.db.prepare(
      `INSERT INTO envelopes (chat_id, epoch, recipient, wrapped_key, issued_at, server_signature)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, epoch, recipient) DO UPDATE SET
       wrapped_key = excluded.wrapped_key, issued_at = excluded.issued_at, server_signature = excluded.server_signature`,
    );
    this.db.transaction(() => {
      for (const e of envelopes)
        put.run(e.chatId, e.epoch, e.recipient, e.wrappedKey, e.issuedAt, e.serverSignature);
    })();
  }
}
