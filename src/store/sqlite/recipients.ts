import type Database from 'better-sqlite3';
import type { Statements } from './statements.js';
import { memberNames } from './writes.js';

/** Chats, and names in all, kept at most (the least recently read chats go first). */
const KEPT_CHATS = 10_000;
const KEPT_NAMES = 200_000;

/**
 * The members of each chat, whom its messages go to: read once per change of the chat's members,
 * not once per message (in a chat of 1,000 that was 1,000 rows read for every post). A change made
 * on this connection forgets the chat (writes.ts calls `forget` in the change's transaction, so a
 * change rolled back only costs a read); a commit by another connection (an administrator's
 * command on the same file) changes `PRAGMA data_version`, and then every chat is forgotten. Only
 * the append reads through it, and its transaction changes no members: what is kept is committed.
 */
export class ChatRecipients {
  private readonly kept = new Map<string, readonly string[]>();
  private keptNames = 0;
  private readonly dataVersion: Database.Statement;
  private seenVersion: unknown;

  constructor(
    db: Database.Database,
    private readonly q: Statements,
  ) {
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.seenVersion = this.dataVersion.get();
  }

  /** The chat's members now (the same frozen list until they change). */
  of(chatId: string): readonly string[] {
    const version = this.dataVersion.get();
    if (version !== this.seenVersion) {
      this.kept.clear();
      this.keptNames = 0;
      this.seenVersion = version;
    }
    let names = this.kept.get(chatId);
    if (names) {
      this.kept.delete(chatId); // read again: the newest in the map's order
    } else {
      names = Object.freeze(memberNames(this.q, chatId));
      this.keptNames += names.length;
    }
    this.kept.set(chatId, names);
    while (this.kept.size > KEPT_CHATS || this.keptNames > KEPT_NAMES) {
      const oldest = this.kept.keys().next().value as string;
      if (oldest === chatId) break; // the one just read stays, however large
      this.forget(oldest);
    }
    return names;
  }

  /**
   * The chat's members are changing: read them again next time. Called in the change's
   * transaction and once more after it ends (sqlite/chats.ts), so that a list read in between
   * (from a change that then rolled back) is not kept.
   */
  forget(chatId: string): void {
    const names = this.kept.get(chatId);
    if (names === undefined) return;
    this.kept.delete(chatId);
    this.keptNames -= names.length;
  }
}
