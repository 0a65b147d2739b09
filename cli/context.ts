import type { SeenMessages } from '../src/client/index.js';
import type { Session } from './session.js';

/** What a command needs: the session, where to print, and (in the menu) the current chat. */
export interface Context {
  session: Session;
  json: boolean;
  /** A line for people (plain mode) — in JSON mode only `result` prints. */
  say(text: string): void;
  warn(text: string): void;
  /** The command's result: JSON in --json mode, else nothing (say() already told it). */
  result(value: unknown): void;
  currentChat?: string;
  /** Invitations not yet joined, newest last. */
  pending: string[];
  /** Messages the live stream has shown, by `chatId/id`: a repeat is refused, not shown twice. */
  seen: SeenMessages;
}
