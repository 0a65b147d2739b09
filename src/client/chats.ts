import type { Api } from './api.js';

/** A chat object, as every body and event carries it. */
export interface ChatView {
  id: string;
  epoch: number;
  createdBy: string;
  createdAt: string;
  members: { username: string; state: 'invited' | 'joined'; online: boolean }[];
}

/** Every chat of the caller, following `nextCursor` page by page (a cursor seen twice ends it). */
export async function listChats(api: Api): Promise<ChatView[]> {
  const all: ChatView[] = [];
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page: { chats: ChatView[]; nextCursor?: string | null } = await api.call(
      'GET',
      `/chats?limit=500${query}`,
    );
    all.push(...page.chats);
    cursor = typeof page.nextCursor === 'string' && !seen.has(page.nextCursor) ? page.nextCursor : null;
    if (cursor !== null) seen.add(cursor);
  } while (cursor !== null);
  return all;
}
