import { type Chat, shortId, type Unavailable, unavailableLines } from '../../../src/client/index.js';
import { field, h, names, onSubmit, replace } from '../dom.js';
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
) {
  const list = h('ul', { class: 'chats' });
  const notes = h('p', { role: 'status' });
  const render = () => {
    const items = [...session.chats.values()].map((chat) => {
      const me = chat.members.find((m) => m.username === session.username);
      const others = chat.members.filter((m) => m.username !== session.username).map((m) => m.username);
      const label = `${others.join(', ') || 'only you'} · ${shortId(chat.id)} · epoch ${session.epochOf(chat.id) ?? chat.epoch}${me?.state === 'invited' ? ' · invited' : ''}`;
      return h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'link',
            'aria-current': chat.id === current() ? 'true' : undefined,
            onclick: () => open(chat.id),
          },
          label,
        ),
        ' ',
        h('span', { class: 'mode' }, `(${modeWords(session, chat)})`),
      );
    });
    replace(list, ...(items.length ? items : [h('li', {}, 'No chats yet.')]));
  };
  session.on((event) => {
    if (event.type === 'chats') render();
    if (event.type === 'notice' && !event.chatId) replace(notes, event.text);
    if (event.type === 'notice' && event.chatId && /invited you/.test(event.text)) replace(notes, event.text);
  });

  const invitees = h('input', { name: 'invitees', autocomplete: 'off', spellcheck: 'false', required: true });
  // off: the server makes the chat's keys (server mode, the default); on: members' clients do
  const membersOnly = h('input', { type: 'checkbox', name: 'members-only' });
  const out = h('p', { role: 'alert', class: 'error' });
  const form = h(
    'form',
    { class: 'stack', hidden: true },
    field('Invitees', invitees),
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
    replace(out, unavailableText(unavailable));
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

/** "invited — erin is offline and will see it when they connect. there is no user nobody: not invited." */
export function unavailableText(unavailable: Unavailable): string {
  return unavailableLines(unavailable)
    .map((line) => `${line}.`)
    .join(' ');
}
