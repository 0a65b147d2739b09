import type { FeedEvent } from '../../src/client/index.js';

/** What a session tells the panels that listen to it. */
export type SessionEvent =
  | { type: 'status'; state: 'connected' | 'reconnecting' | 'stopped'; detail?: string }
  | { type: 'presence' }
  | { type: 'chats'; chatId?: string }
  | { type: 'message'; data: FeedEvent['data'] }
  | { type: 'notice'; text: string; chatId?: string; warning?: boolean }
  | { type: 'trust' }
  | { type: 'outbox' }
  /** A peer's message, live (not history), read and shown in its chat's log. */
  | { type: 'arrived'; chatId: string; sender: string; text: string }
  /** What the user has seen changed (a chat opened, the tab shown again): unread counts. */
  | { type: 'unread' };

/** What the connection line says of a status. */
export function connectionText(event: { state: string; detail?: string }): string {
  if (event.state === 'connected') return 'Connected';
  if (event.state === 'reconnecting')
    return `Reconnecting… (${/fetch|network/i.test(event.detail ?? '') ? 'the server cannot be reached; what you send is kept until it is back' : (event.detail ?? '')})`;
  return `Disconnected${event.detail ? `: ${event.detail}` : ''}`;
}
