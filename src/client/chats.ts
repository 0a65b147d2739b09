import type { Schema } from '../contract/index.js';
import type { Api } from './api.js';
import { ClientError } from './errors.js';
import type { EpochStore } from './stores.js';
import { escapeControls, shortId } from './text.js';
import { checkChat } from './validate.js';

/** A chat object, as every body and event carries it (openapi.yaml's Chat). */
export type Chat = Schema<'Chat'>;

/** The invitees left out of `POST /chats` or an invite, and why. */
export type Unavailable = Schema<'Unavailable'>;

/**
 * Every chat of the caller, following `nextCursor` page by page (a cursor seen twice ends it). A
 * chat that became active while the pages were read comes again in a later page (protocol.md,
 * `GET /chats`): it is listed once, as last seen.
 */
export async function listAllChats(api: Api): Promise<Chat[]> {
  const all = new Map<string, Chat>();
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    const page = await api.listChats({ limit: 500, cursor: cursor ?? undefined });
    if (!Array.isArray(page?.chats))
      throw new ClientError('the server sent a list of chats that is not a list');
    for (const chat of page.chats) checkChat(chat); // names and epochs checked before use
    for (const chat of page.chats) all.set(chat.id, chat);
    cursor = typeof page.nextCursor === 'string' && !seen.has(page.nextCursor) ? page.nextCursor : null;
    if (cursor !== null) seen.add(cursor);
  } while (cursor !== null);
  return [...all.values()];
}

/**
 * A chat just created is new to this client (no epoch of it seen yet), at epoch 1 (members mode:
 * 0, with epoch 1 pending) in the mode asked for, and created by this user; otherwise the answer is a replay of an existing chat's (whose other members would
 * read what is sent to it), and is refused. `chat` is shape-checked already.
 */
export function checkNewChat(
  chat: Chat,
  username: string,
  epochs: EpochStore,
  keyMode: Chat['keyMode'] = 'server',
): void {
  // members mode: epoch 0, its first epoch (epoch 1) pending
  const first = keyMode === 'members' ? chat.epoch === 0 && chat.pending?.epoch === 1 : chat.epoch === 1;
  if (
    epochs.highestEpoch(chat.id) !== undefined ||
    !first ||
    (chat.keyMode ?? 'server') !== keyMode ||
    chat.createdBy !== username
  )
    throw new ClientError(
      `WARNING: the server answered with chat ${shortId(chat.id)} (epoch ${chat.epoch}, created by ${escapeControls(chat.createdBy)}), ` +
        'which is not a chat just created by you (a replayed answer?); nothing sent to it',
    );
}

/**
 * What the requester of a new chat or an invitation is told of the invitees the server reported
 * (protocol.md, `POST /chats`), one line each, escaped for a terminal: an offline user is invited
 * all the same and finds the invitation when they connect; an unknown one is not added.
 */
export function unavailableLines(unavailable: Unavailable): string[] {
  return unavailable.map((u) =>
    u.reason === 'offline'
      ? `invited — ${escapeControls(u.username)} is offline and will see it when they connect`
      : `there is no user ${escapeControls(u.username)}: not invited`,
  );
}

/** The invitees of a request who are members now: all but those reported unknown. */
export const invitedOf = (invitees: readonly string[], unavailable: Unavailable): string[] =>
  invitees.filter((u) => !unavailable.some((x) => x.username === u && x.reason === 'unknown'));
