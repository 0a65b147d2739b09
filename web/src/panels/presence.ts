import { field, h, onSubmit, replace, sayFor } from '../dom.js';
import type { WebSession } from '../session.js';

/** Who is online, live from `presence` events, and anyone's status on demand. */
export function presencePanel(session: WebSession): HTMLElement {
  const list = h('ul', { class: 'online' });
  const render = () =>
    replace(
      list,
      ...[...session.online]
        .sort()
        .map((name) => h('li', {}, name, name === session.username ? ' (you)' : '')),
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
  return h('section', { class: 'panel', 'aria-label': 'Online' }, h('h2', {}, 'Online'), list, form);
}
