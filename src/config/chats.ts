import { int, parseDuration } from './parse.js';
import { setting } from './read.js';

/** Chats and messages: the limits per user and per chat, history pages, and key rotation. */
export const chatSettings = {
  postLimit: setting('SECURECHAT_POST_LIMIT', 600, int(1, 100_000_000), 'messages per minute per user'),
  commitLimit: setting('SECURECHAT_COMMIT_LIMIT', 60, int(1, 100_000_000), 'commits per minute per user'),
  maxMembersPerChat: setting('SECURECHAT_MAX_MEMBERS', 100, int(2, 100_000), 'members per chat'),
  chatCreateLimit: setting(
    'SECURECHAT_CHAT_LIMIT',
    30,
    int(1, 1_000_000),
    'chats created per minute per user',
  ),
  membershipLimit: setting(
    'SECURECHAT_MEMBERSHIP_LIMIT',
    60,
    int(1, 1_000_000),
    'invitations and leaves per minute per user',
  ),
  maxChatsPerUser: setting('SECURECHAT_MAX_CHATS', 1000, int(1, 1_000_000), 'chats per user'),
  historyLimit: setting(
    'SECURECHAT_HISTORY_LIMIT',
    600,
    int(1, 100_000_000),
    'history pages per minute per user',
  ),
  historyPageBytes: setting(
    'SECURECHAT_HISTORY_PAGE_BYTES',
    4 * 1024 * 1024,
    // at least one largest message must fit
    int(131_072, 1 << 30),
    'bytes 131072-1073741824',
  ),
  rotateMessages: setting('SECURECHAT_ROTATE_MESSAGES', 10_000, int(1, 1_000_000_000), 'messages per epoch'),
  rotateSeconds: setting(
    'SECURECHAT_ROTATE_SECONDS',
    7 * 86400,
    parseDuration,
    'a duration such as 7d or 3600',
  ),
  pendingSeconds: setting('SECURECHAT_PENDING_SECONDS', 60, int(1, 86_400), 'seconds 1-86400'),
};
