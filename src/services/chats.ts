import type { Fanout } from '../bus/types.js';
import type { Store } from '../store/types.js';
import type { Accounts } from './accounts.js';
import { chatCommitter } from './chat-change.js';
import { chatCreation } from './chat-create.js';
import { type ChatLimits, chatLimits } from './chat-limits.js';
import { chatMembership } from './chat-membership.js';
import { chatQueue } from './chat-queue.js';
import { chatReads } from './chat-reads.js';
import { chatRekey } from './chat-rekey.js';
import { retrying } from './chat-retry.js';
import { chatRotation } from './chat-rotation.js';
import { chatViewer } from './chat-view.js';
import type { EnvelopeIssuer } from './envelopes.js';
import { createMembersMode } from './members-mode.js';
import { inviteeClassifier, onlineLookup } from './online.js';
import type { Presence } from './presence.js';

export interface ChatsDeps {
  store: Store;
  bus: Fanout;
  presence: Presence;
  accounts: Accounts;
  issueEnvelopes: EnvelopeIssuer;
  maxMembers: number;
  limits: ChatLimits;
  /** Records a security event (chat created, member invited/joined/left, key rotated). */
  audit?: (event: string, fields: Record<string, unknown>) => void;
}

/**
 * Membership, epochs and envelopes: every change of members rotates the chat key. The chats
 * service is its parts put together: limits (chat-limits.ts), presence look-ups (online.ts),
 * views (chat-view.ts), retries (chat-retry.ts) and the operations (chat-create.ts,
 * chat-reads.ts, chat-membership.ts, chat-rotation.ts).
 */
export function createChats({
  store,
  bus,
  presence,
  accounts,
  issueEnvelopes,
  maxMembers,
  limits,
  audit = () => {},
}: ChatsDeps) {
  const limiter = chatLimits(store, maxMembers, limits);
  const serialized = chatQueue();
  const withRetry = retrying(serialized);
  const onlineAmong = onlineLookup(presence);
  const classify = inviteeClassifier(onlineAmong, accounts);
  const view = chatViewer(onlineAmong);
  const commit = chatCommitter(store, bus, audit);
  const membersMode = createMembersMode({ view, commit });
  const change = { store, issueEnvelopes, view, classify, commit, membersMode, limiter };

  return {
    view,
    create: chatCreation(change),
    ...chatReads({ store, view, onlineAmong }),
    ...chatMembership({ ...change, withRetry }),
    rotate: chatRotation({ store, issueEnvelopes, commit, membersMode, serialized }),
    rekey: chatRekey({ store, issueEnvelopes, commit, membersMode, withRetry }),
  };
}

export type Chats = ReturnType<typeof createChats>;
