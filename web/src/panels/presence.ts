import { field, h, onSubmit, reason, replace, sayFor } from '../dom.js';
import { chatWith } from '../invitations.js';
import type { WebSession } from '../session.js';

/** Who is online, live from `presence` events, and anyone's status on demand. */
export function presencePanel(session: WebSession, open: (chatId: string) => void): HTMLElement {
  const list = h('ul', { class: 'online' });
  const problem = h('p', { role: 'alert', class: 'error' });
  // a name starts (or opens) the chat with that person
  const chatWithName = (name: string) =>
    chatWith(session, name).then(open, (error) => sayFor(problem, reason(error)));
  const render = () =>
    replace(
      list,
      ...[...session.online].sort().map((name) =>
        name === session.username
          ? h('li', {}, name, ' (you)')
          : h(
              'li',
              {},
              h(
                'button',
                {
                  type: 'button',
                  class: 'link',
                  'aria-label': `Chat with ${name}`,
                  onclick: () => chatWithName(name),
                },
                name,
              ),
            ),
      ),
    );
  session.on((event) => {
    if (event.type === 'presence') render();
  });
  render();
  const who = h('input', { name: 'status-user', autocomplete: 'off', required: true, spellcheck: 'false' });
  const out = h('p', { role: 'status' });
  const form = h(
    'form',
    { class: 'row' },
    field('Status of', who),
    h('button', { type: 'submit' }, 'Status'),
    out,
  );
  onSubmit(form, out, async () => {
    const name = who.value.trim();
    const s = await session.api.getUserStatus(name);
    const seen =
      typeof s?.lastSeen === 'string' ? `, last seen ${new Date(s.lastSeen).toLocaleString()}` : '';
    sayFor(out, `${name} is ${s?.online === true ? 'online' : `offline${seen}`}`);
  });
  return h('section', { class: 'panel', 'aria-label': 'Online' }, h('h2', {}, 'Online'), list, problem, form);
}
