import type { ChatRecord, KeyMode, MemberRecord } from '../store/chat-types.js';
import { membersOf, type OnlineAmong } from './online.js';
import { type PendingView, pendingView } from './pending.js';

/** A chat as its members see it: each member's state and whether they are online. */
export interface ChatView {
  id: string;
  epoch: number;
  createdBy: string;
  createdAt: string;
  members: { username: string; state: MemberRecord['state']; online: boolean }[];
  keyMode: KeyMode;
  /** Members mode only: the epoch waiting for a member's commit, or null. */
  pending?: PendingView | null;
}

export type View = (chat: ChatRecord) => Promise<ChatView>;

export function viewWith(chat: ChatRecord, onlineNow: Set<string>): ChatView {
  const members = chat.members.map((m) => ({
    username: m.username,
    state: m.state,
    online: onlineNow.has(m.username),
  }));
  const keyMode = chat.keyMode ?? 'server';
  return {
    id: chat.id,
    epoch: chat.epoch,
    createdBy: chat.createdBy,
    createdAt: chat.createdAt,
    members,
    keyMode,
    ...(keyMode === 'members' && { pending: pendingView(chat.pending) }),
  };
}

/** The view of one chat, its members' presence asked now. */
export function chatViewer(onlineAmong: OnlineAmong): View {
  return async function view(chat: ChatRecord): Promise<ChatView> {
    return viewWith(chat, await onlineAmong(membersOf([chat])));
  };
}
