import {
  type Chat,
  type ClientOptions,
  describeChange,
  describeInvitedAgain,
  escapeControls,
} from '../../src/client/index.js';
import type { SessionEvent } from './session-event.js';

/** What the notices read of the session and where they go. */
export interface NoticeTarget {
  readonly username: string;
  readonly chats: ReadonlyMap<string, Chat>;
  emit(event: SessionEvent): void;
}

/**
 * Chats the server cannot read (keyMode "members"), as the CLI says them, through src/client:
 * every change of members said in its chat's log with who made it (held back until the chat is in
 * the list, for an invitation); a pending epoch this user will not commit said with the reason; an
 * invitation a leave or rotation dropped said when it is made again.
 */
export class MemberNotices {
  /** Changes of members accepted for a chat not (yet) in the list: said once it is (an invitation). */
  private readonly waiting = new Map<string, string[]>();

  constructor(private readonly target: NoticeTarget) {}

  /** The client library's members-mode hooks. */
  hooks(): Pick<ClientOptions, 'onMemberChange' | 'onCommitRefused' | 'onInvitedAgain'> {
    const { target } = this;
    const inList = (chatId: string) => (target.chats.has(chatId) ? chatId : undefined);
    return {
      onMemberChange: (change) => this.say(change.chatId, describeChange(change, target.username)),
      // not a warning by itself: another member's invitation is one this user did not ask for
      onCommitRefused: (chatId, pending, reason) =>
        target.emit({
          type: 'notice',
          chatId: inList(chatId),
          text: `the key of epoch ${escapeControls(String(pending.epoch))} is left to another member: ${reason}`,
        }),
      // an invitation a leave or rotation dropped, made again by this page (or why not)
      onInvitedAgain: (chatId, invitees, outcome) =>
        target.emit({
          type: 'notice',
          chatId: inList(chatId),
          warning: outcome.error !== undefined,
          text: describeInvitedAgain(invitees, outcome),
        }),
    };
  }

  /** A change of a chat's members, said in its log now, or once the chat is in the list. */
  say(chatId: string, text: string): void {
    if (this.target.chats.has(chatId)) this.target.emit({ type: 'notice', chatId, text });
    else this.waiting.set(chatId, [...(this.waiting.get(chatId) ?? []), text]);
  }

  /** Says what waited for the chat to be in the list. */
  flush(chatId: string): void {
    const waiting = this.waiting.get(chatId);
    this.waiting.delete(chatId);
    for (const text of waiting ?? []) this.target.emit({ type: 'notice', chatId, text });
  }
}
