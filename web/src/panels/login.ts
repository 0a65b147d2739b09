import { field, h, onSubmit } from '../dom.js';

/**
 * Username and password. "Create account" (self-registration with a one-time code) opens a panel
 * of its own in place of this one (panels/register.ts).
 */
export function loginPanel(
  onLogin: (username: string, password: string) => Promise<void>,
  onCreateAccount: () => void,
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
  const create = h('button', { type: 'button' }, 'Create account');
  create.addEventListener('click', onCreateAccount);
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'login-title' },
    h('h2', { id: 'login-title' }, 'Log in'),
    form,
    h('p', {}, 'New here, with a registration code from your administrator? ', create),
  );
}
