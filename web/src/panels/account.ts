import { ApiError } from '../../../src/client/index.js';
import { field, h, onSubmit, reason, replace } from '../dom.js';
import { passwordProblem } from './register.js';

/** What the account dialog does; each throws what went wrong, said in the dialog's own line. */
export interface AccountActions {
  changePassword(currentPassword: string, newPassword: string): Promise<void>;
  /** Makes and registers new keys; `say` tells how far it got. */
  replaceKeys(currentPassword: string, say: (text: string) => void): Promise<void>;
  logOutEverywhere(): Promise<void>;
}

/**
 * A refusal as one line: what was not done, the server's problem (its detail, status and code,
 * escaped by the library), and how long to wait when it limits the tries as it limits logins.
 */
export function refusedLine(what: string, error: unknown): string {
  const wait =
    error instanceof ApiError && error.status === 429
      ? ` Too many tries: try again ${error.retryAfter === undefined ? 'later' : `in ${error.retryAfter} s`}.`
      : '';
  // the library's "refused: the code is wrong…" reads as "Not reset: the code is wrong…"
  return `${what}: ${reason(error).replace(/^refused: /, '')}${wait}`;
}

const password = (name: string, autocomplete: string) =>
  h('input', { name, type: 'password', autocomplete, required: true });

/** One action of the dialog: a titled region with its form, a status line and an alert line. */
function part(id: string, title: string, note: string, ...children: HTMLElement[]) {
  return h(
    'section',
    { class: 'stack', 'aria-labelledby': id },
    h('h3', { id }, title),
    h('p', { class: 'note' }, note),
    ...children,
  );
}

function changePasswordPart(actions: AccountActions): HTMLElement {
  const current = password('current-password', 'current-password');
  const next = password('new-password', 'new-password');
  const repeat = password('repeat-password', 'new-password');
  const done = h('p', { role: 'status' });
  const out = h('p', { role: 'alert', class: 'error' });
  const form = h(
    'form',
    { class: 'stack' },
    field('Current password', current),
    field('New password', next),
    field('Repeat new password', repeat),
    h('button', { type: 'submit' }, 'Change password'),
  );
  onSubmit(form, out, async () => {
    replace(done);
    const problem = passwordProblem(next.value, repeat.value);
    if (problem) throw new Error(problem);
    try {
      await actions.changePassword(current.value, next.value);
    } catch (error) {
      throw new Error(refusedLine('Password not changed', error));
    }
    for (const input of [current, next, repeat]) input.value = '';
    replace(done, 'Password changed. Every other session of yours has ended; this one goes on.');
  });
  return part(
    'password-title',
    'Change password',
    'Every other session of yours (other browsers, terminals) ends; this one stays.',
    form,
    done,
    out,
  );
}

function replaceKeysPart(actions: AccountActions): HTMLElement {
  const current = password('keys-password', 'current-password');
  const busy = h('p', { role: 'status' });
  const out = h('p', { role: 'alert', class: 'error' });
  const form = h(
    'form',
    { class: 'stack' },
    field('Your password', current),
    h('button', { type: 'submit' }, 'Replace keys'),
  );
  onSubmit(form, out, async () => {
    try {
      await actions.replaceKeys(current.value, (text) => replace(busy, text));
      current.value = '';
    } catch (error) {
      throw new Error(refusedLine('Keys not replaced', error));
    } finally {
      replace(busy);
    }
  });
  return part(
    'replace-title',
    'Replace keys',
    'For a key that leaked, or to move to new keys: four new key pairs are made in this browser (a minute), ' +
      'signed for with your current key and registered; you are offered them as a download. Your old keys stay ' +
      'in this browser, to open what was sent to them. The people you chat with are told that you replaced your ' +
      'keys, signed with your old key, and read your new messages once they accept your new fingerprints.',
    form,
    busy,
    out,
  );
}

function everywherePart(actions: AccountActions): HTMLElement {
  const out = h('p', { role: 'alert', class: 'error' });
  const button = h('button', { type: 'button' }, 'Log out everywhere');
  button.addEventListener('click', async () => {
    button.disabled = true;
    replace(out);
    try {
      await actions.logOutEverywhere();
    } catch (error) {
      replace(out, refusedLine('Not logged out', error));
    } finally {
      button.disabled = false;
    }
  });
  return part(
    'everywhere-title',
    'Log out everywhere',
    'Ends every session of yours, in every browser and terminal, this one too (a lost laptop, say).',
    button,
    out,
  );
}

/** "Account": change password, replace keys, log out everywhere. */
export function accountDialog(username: string, actions: AccountActions, onClose: () => void): HTMLElement {
  const close = h('button', { type: 'button' }, 'Close');
  close.addEventListener('click', onClose);
  return h(
    'section',
    { class: 'panel', role: 'dialog', 'aria-labelledby': 'account-title' },
    h('h2', { id: 'account-title' }, `Account ${username}`),
    changePasswordPart(actions),
    replaceKeysPart(actions),
    everywherePart(actions),
    close,
  );
}
