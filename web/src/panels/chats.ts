import { type Chat, shortId, type Unavailable, unavailableLines } from '../../../src/client/index.js';
import { field, h, names, onSubmit, reason, replace, sayFor } from '../dom.js';
import { joinChat, leaveChat } from '../invitations.js';
import type { WebSession } from '../session.js';

/**
 * Which mode a chat is in, in words a non-cryptographer understands (as the CLI says it): as the
 * keys this browser holds of it say, and only for a chat it holds none of yet, as the server says
 * (protocol.md: a client names a chat's mode as the keys it holds say).
 */
export const modeWords = (session: WebSession, chat: Chat) =>
  session.client.chatKeys.keyModeOf(chat) === 'members'
    ? 'only members can read'
    : 'the server can read if it is compromised';

/**
 * The user's chats (invitations marked, each with its mode in words) and "New chat", whose
 * "Only members can read" checkbox makes a members-mode chat (its first key made in this page).
 */
export function chatsPanel(
  session: WebSession,
  open: (chatId: string) => void,
  current: () => string | undefined,
  unread: (chatId: string) => number = () => 0,
) {
  const list = h('ul', { class: 'chats' });
  const notes = h('p', { role: 'status' });
  const answer = (chatId: string, action: () => Promise<void>) =>
    action().then(
      () => (session.chats.has(chatId) ? open(chatId) : render()),
      (error) => replace(out, reason(error)),
    );
  const invitationButtons = (chatId: string, others: string[]) => {
    const who = others.join(', ') || 'only you';
    return h(
      'span',
      { class: 'invitation' },
      ' ',
      h(
        'button',
        {
          type: 'button',
          'aria-label': `Join the chat with ${who}`,
          onclick: () => answer(chatId, () => joinChat(session, chatId)),
        },
        'Join',
      ),
      ' ',
      h(
        'button',
        {
          type: 'button',
          'aria-label': `Decline the chat with ${who}`,
          onclick: () => answer(chatId, () => leaveChat(session, chatId)),
        },
        'Decline',
      ),
    );
  };
  const render = () => {
    const items = [...session.chats.values()].map((chat) => {
      const me = chat.members.find((m) => m.username === session.username);
      const others = othersIn(session, chat);
      const label = `${chatName(session, chat)} · epoch ${session.epochOf(chat.id) ?? chat.epoch}${me?.state === 'invited' ? ' · invited' : ''}`;
      return h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            'data-chat-id': chat.id,
            'aria-current': chat.id === current() ? 'true' : undefined,
            onclick: () => open(chat.id),
          },
          label,
        ),
        ' ',
        unread(chat.id) > 0 && h('span', { class: 'unread' }, `${unread(chat.id)} unread`),
        ' ',
        h('span', { class: 'mode' }, `(${modeWords(session, chat)})`),
        // an invitation is answered here; the chat open has its own Join and Decline
        me?.state === 'invited' && chat.id !== current() && invitationButtons(chat.id, others),
      );
    });
    replace(list, ...(items.length ? items : [h('li', {}, 'No chats yet.')]));
  };
  /** The chat whose invitation the status line says, while it does. */
  let invitedTo: string | undefined;
  const invited = (chatId: string) =>
    session.chats
      .get(chatId)
      ?.members.some((m) => m.username === session.username && m.state === 'invited') ?? false;
  session.on((event) => {
    if (event.type === 'chats' || event.type === 'unread') render();
    if (event.type === 'notice' && !event.chatId) sayFor(notes, event.text);
    // an invitation is said until it is answered (or the chat is gone)
    if (event.type === 'notice' && event.chatId && /invited you/.test(event.text)) {
      invitedTo = event.chatId;
      replace(notes, event.text);
    }
    if (event.type === 'chats' && invitedTo !== undefined && !invited(invitedTo)) {
      invitedTo = undefined;
      replace(notes);
    }
  });

  const invitees = h('input', {
    name: 'invitees',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'invitees-hint',
  });
  // off: the server makes the chat's keys (server mode, the default); on: members' clients do
  const membersOnly = h('input', { type: 'checkbox', name: 'members-only' });
  const out = h('p', { role: 'alert', class: 'error' });
  const form = h(
    'form',
    { class: 'stack', hidden: true },
    field('Invitees', invitees),
    h(
      'span',
      { class: 'hint', id: 'invitees-hint' },
      'Separate names with commas or spaces: alice, bob carol',
    ),
    h('label', { class: 'check' }, membersOnly, ' Only members can read'),
    h('button', { type: 'submit' }, 'Start chat'),
  );
  const toggle = h('button', { type: 'button', 'aria-expanded': 'false' }, 'New chat');
  toggle.addEventListener('click', () => {
    form.hidden = !form.hidden;
    toggle.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) invitees.focus();
  });
  onSubmit(form, out, async () => {
    const since = session.mark();
    const { chat, unavailable } = await session.client.createChat(names(invitees.value), {
      keyMode: membersOnly.checked ? 'members' : 'server',
    });
    invitees.value = '';
    membersOnly.checked = false;
    form.hidden = true;
    toggle.setAttribute('aria-expanded', 'false');
    session.setChat(chat, undefined, since);
    open(chat.id);
    sayFor(out, unavailableText(unavailable));
  });
  render();
  return {
    element: h(
      'section',
      { class: 'panel', 'aria-labelledby': 'chats-title' },
      h('h2', { id: 'chats-title' }, 'Chats'),
      toggle,
      form,
      out,
      list,
      notes,
    ),
    render,
  };
}

/** The other members of a chat (joined or invited), by name. */
export const othersIn = (session: WebSession, chat: Chat): string[] =>
  chat.members.filter((m) => m.username !== session.username).map((m) => m.username);

/**
 * A chat as a person names it: by its other members ("alice, bob"), and only where another chat
 * of the user has the same members, with its short id too.
 */
export function chatName(session: WebSession, chat: Chat): string {
  const key = (c: Chat) => othersIn(session, c).sort().join(',');
  const mine = key(chat);
  const same = [...session.chats.values()].some((c) => c.id !== chat.id && key(c) === mine);
  return `${othersIn(session, chat).join(', ') || 'only you'}${same ? ` · ${shortId(chat.id)}` : ''}`;
}

/** "invited — erin is offline and will see it when they connect. there is no user nobody: not invited." */
export function unavailableText(unavailable: Unavailable): string {
  return unavailableLines(unavailable)
    .map((line) => `${line}.`)
    .join(' ');
}
