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

/**
 * The chat with one person: the user's chat whose only other member they are, else a new one
 * (they are invited). Returns its id.
 */
export async function chatWith(session: WebSession, name: string): Promise<string> {
  for (const chat of session.chats.values()) {
    const others = chat.members.filter((m) => m.username !== session.username);
    if (others.length === 1 && others[0].username === name) return chat.id;
  }
  const since = session.mark();
  const { chat, unavailable } = await session.client.createChat([name]);
  session.setChat(chat, undefined, since);
  if (unavailable.length)
    session.emit({
      type: 'notice',
      chatId: chat.id,
      warning: true,
      text: `${name} is ${unavailable[0].reason}`,
    });
  return chat.id;
}
