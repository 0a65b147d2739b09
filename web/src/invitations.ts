import type { WebSession } from './session.js';

/** Joins a chat this user is invited to; the chat is shown as the answer has it. */
export async function joinChat(session: WebSession, chatId: string): Promise<void> {
  const since = session.mark();
  session.setChat(await session.client.join(chatId), chatId, since);
}

/** Declines an invitation, or leaves a chat joined: it goes from the list. */
export async function leaveChat(session: WebSession, chatId: string): Promise<void> {
  await session.api.leaveChat(chatId);
  session.chats.delete(chatId);
  session.emit({ type: 'chats', chatId });
}
