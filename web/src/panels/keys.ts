import { h, reason, replace } from '../dom.js';
import { DSA_PUBLIC_FILE, KEY_FILES } from '../keyring.js';

/**
 * Picking the key store: the private-key files of `keys/users/<name>/`, or the whole folder where
 * the browser allows it. The keys are checked against the user's registered ones by `load`.
 */
export function keysPanel(
  username: string,
  load: (files: File[]) => Promise<void>,
  problem?: string,
): HTMLElement {
  const out = h('p', { role: 'alert', class: 'error' }, problem);
  const busy = h('p', { role: 'status' });
  const take = async (input: HTMLInputElement) => {
    const files = [...(input.files ?? [])];
    if (!files.length) return;
    replace(out);
    replace(busy, 'Checking the keys…');
    try {
      await load(files);
    } catch (error) {
      replace(out, reason(error));
    } finally {
      replace(busy);
      input.value = '';
    }
  };
  const files = h('input', { type: 'file', multiple: true, accept: '.pem' });
  files.addEventListener('change', () => take(files));
  const folder = h('input', { type: 'file', webkitdirectory: true });
  folder.addEventListener('change', () => take(folder));
  const folderAllowed = 'webkitdirectory' in folder;
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'keys-title' },
    h('h2', { id: 'keys-title' }, `Key store of ${username}`),
    h(
      'p',
      {},
      `Pick ${Object.keys(KEY_FILES).join(', ')} from keys/users/${username}/`,
      folderAllowed ? ', or the whole folder.' : '.',
      ` With ${DSA_PUBLIC_FILE} (the folder holds it), the server's copy of your DSA key is checked too.`,
    ),
    h('label', { class: 'field' }, h('span', {}, 'Key store'), files),
    folderAllowed && h('label', { class: 'field' }, h('span', {}, 'Or the key store folder'), folder),
    h(
      'p',
      { class: 'note', id: 'keys-note' },
      'Your private keys never leave this page: they are imported into this browser as keys that cannot be read back, ' +
        'kept in its storage for this user only, and used here to decrypt and sign. Nothing is uploaded.',
    ),
    busy,
    out,
  );
}
