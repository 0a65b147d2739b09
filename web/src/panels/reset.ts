import {
  Api,
  generateKeyStore,
  isUsername,
  type PemKeyPairSet,
  resetKeys,
} from '../../../src/client/index.js';
import { field, h, onSubmit, replace } from '../dom.js';
import { workerDsaKeyGenerator } from '../workers/protocol.js';
import { refusedLine } from './account.js';
import type { NewAccount } from './register.js';
import { passwordProblem, USERNAME_RULE } from './register.js';

/** An account reset here: its new keys, and the new password if one was given. */
export interface ResetAccount extends Omit<NewAccount, 'password'> {
  password?: string;
}

/**
 * "Reset my account with a code" (a lost key store): the administrator's one-time reset code
 * (`npm run user:reset`), new keys made in this browser as "Create account" makes them, and
 * optionally a new password (PUT /users/{username}/keys). As at registration, keys made for a
 * refused try are kept for the next one.
 */
export function resetPanel(
  onReset: (account: ResetAccount) => Promise<void>,
  onBack: () => void,
): HTMLElement {
  const username = h('input', {
    name: 'username',
    autocomplete: 'username',
    required: true,
    spellcheck: 'false',
  });
  const code = h('input', { name: 'reset-code', autocomplete: 'off', required: true, spellcheck: 'false' });
  const password = h('input', { name: 'new-password', type: 'password', autocomplete: 'new-password' });
  const repeat = h('input', { name: 'repeat-password', type: 'password', autocomplete: 'new-password' });
  const busy = h('p', { role: 'status' });
  const out = h('p', { role: 'alert', class: 'error' });
  const back = h('button', { type: 'button' }, 'Back to log in');
  back.addEventListener('click', onBack);
  const form = h(
    'form',
    { class: 'stack' },
    field('Username', username),
    field('Reset code', code),
    field('New password (optional)', password),
    field('Repeat new password', repeat),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Reset my account'), back),
    busy,
    out,
  );
  let keys: PemKeyPairSet | undefined;
  onSubmit(form, out, async () => {
    const name = username.value.trim();
    if (!isUsername(name)) throw new Error(USERNAME_RULE);
    if (!code.value.trim()) throw new Error('Enter the reset code your administrator gave you.');
    const newPassword = password.value || repeat.value ? password.value : undefined;
    const problem = newPassword === undefined ? undefined : passwordProblem(password.value, repeat.value);
    if (problem) throw new Error(problem);
    try {
      if (!keys) {
        replace(busy, 'Making keys… this can take a minute.');
        keys = await generateKeyStore({ dsa: workerDsaKeyGenerator });
      }
      replace(busy, 'Resetting…');
      await resetKeys(new Api({ server: location.origin }), {
        username: name,
        code: code.value.trim(),
        next: keys,
        newPassword,
      });
      const account = { username: name, password: newPassword, keys };
      keys = undefined;
      for (const input of [code, password, repeat]) input.value = '';
      await onReset(account);
    } catch (error) {
      throw new Error(refusedLine('Not reset', error));
    } finally {
      replace(busy);
    }
  });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'reset-title' },
    h('h2', { id: 'reset-title' }, 'Reset my account with a code'),
    h(
      'p',
      { class: 'note' },
      'For a lost key store: your administrator gives you a one-time reset code (valid a day). New keys are made ' +
        'in this browser (a minute) and replace your old ones, which nobody can use any more; every session of ' +
        'yours ends. Leave the new password empty to keep your password. The people you chat with are told that ' +
        'the administrator reset your keys, and are asked to compare fingerprints with you first.',
    ),
    form,
  );
}
