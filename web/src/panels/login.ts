import { field, h, onSubmit } from '../dom.js';

/**
 * Username and password. "Create account" (self-registration with a one-time code) and "Reset my
 * account with a code" (a lost key store) open a panel of their own in place of this one
 * (panels/register.ts, panels/reset.ts).
 */
export function loginPanel(
  onLogin: (username: string, password: string) => Promise<void>,
  onCreateAccount: () => void,
  onReset: () => void,
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
  const reset = h('button', { type: 'button' }, 'Reset my account with a code');
  reset.addEventListener('click', onReset);
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'login-title' },
    h('h2', { id: 'login-title' }, 'Log in'),
    form,
    h('p', {}, 'New here, with a registration code from your administrator? ', create),
    h('p', {}, 'Lost your key store? With a reset code from your administrator: ', reset),
  );
}
