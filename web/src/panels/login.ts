import { field, h, onSubmit } from '../dom.js';

/**
 * Username and password. A "Create account" form (self-registration with a one-time code) is a
 * panel of its own beside this one (main.ts shows the login screen's panels in order).
 */
export function loginPanel(
  onLogin: (username: string, password: string) => Promise<void>,
  notice?: string,
): HTMLElement {
  const username = h('input', {
    name: 'username',
    autocomplete: 'username',
    required: true,
    spellcheck: 'false',
  });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const out = h('p', { role: 'alert', class: 'error' }, notice);
  const form = h(
    'form',
    { class: 'stack' },
    field('Username', username),
    field('Password', password),
    h('button', { type: 'submit' }, 'Log in'),
    out,
  );
  onSubmit(form, out, async () => {
    await onLogin(username.value.trim(), password.value);
    password.value = '';
  });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'login-title' },
    h('h2', { id: 'login-title' }, 'Log in'),
    form,
  );
}
