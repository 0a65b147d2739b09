// Checked by `npm run typecheck` (tsc), not run by vitest: the client library's Api is typed from
// the contract, so each `@ts-expect-error` below must meet an error.
import type { Api } from '../../../src/client/index.js';
import type { Schema } from '../../../src/contract/index.js';

declare const api: Api;

export async function typed() {
  const chat: Schema<'Chat'> = await api.getChat('id');
  const { chats, nextCursor } = await api.listChats({ limit: 500, cursor: 'c1' });
  const { seq } = await api.postMessage('id', {} as Schema<'PostMessageRequest'>);
  // a keyMode left out is the spec's default
  await api.createChat({ invitees: ['bob'] });
  return [chat, chats, nextCursor, seq];
}

export async function refused() {
  // @ts-expect-error invitees are a list of usernames
  await api.inviteToChat('id', { invitees: 'bob' });
  // @ts-expect-error a query parameter getChatKey does not have
  await api.getChatKey('id', { epochs: 2 });
  // @ts-expect-error a key mode the spec does not have
  await api.createChat({ invitees: ['bob'], keyMode: 'nobody' });
  // @ts-expect-error a field the answer does not have
  (await api.getUserStatus('bob')).email;
}
