import { h, replace } from '../dom.js';

/** A key store made in this page and not downloaded yet (kept in memory only, for the reminder). */
export interface Undownloaded {
  name: string;
  blob: Blob;
}

/** Saves the key store archive as a download. */
export function download(archive: Undownloaded): void {
  const url = URL.createObjectURL(archive.blob);
  h('a', { href: url, download: archive.name }).click();
  // the browser has taken the file by then; the URL would otherwise keep the keys for the page's life
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/**
 * "Forget keys" asks first, and says plainly that keys not downloaded are gone for good. A user
 * who made their account here and skipped the download is reminded first, with the download
 * button while the page still holds the key store (`archive`), else told that this browser holds
 * the only copy (`skipped`).
 */
export function forgetDialog(
  username: string,
  reminder: { archive?: Undownloaded; skipped: boolean },
  onForget: () => Promise<void>,
  onCancel: () => void,
): HTMLElement {
  const done = h('p', { role: 'status' });
  const remind: (HTMLElement | false)[] = [];
  if (reminder.archive) {
    const archive = reminder.archive;
    const button = h('button', { type: 'button' }, 'Download key store');
    button.addEventListener('click', () => {
      download(archive);
      replace(done, `Saved as ${archive.name} (in your downloads).`);
    });
    remind.push(
      h(
        'p',
        { class: 'warning' },
        'You made this account here and have not downloaded your key store: this browser holds the only copy of your keys. Download it first.',
      ),
      button,
      done,
    );
  } else if (reminder.skipped)
    remind.push(
      h(
        'p',
        { class: 'warning' },
        'You made this account here and did not download your key store: this browser holds the only copy of your keys, and it can no longer be downloaded.',
      ),
    );
  const forget = h('button', { type: 'button' }, 'Forget keys for good');
  forget.addEventListener('click', async () => {
    forget.disabled = true;
    await onForget();
  });
  const cancel = h('button', { type: 'button' }, 'Cancel');
  cancel.addEventListener('click', onCancel);
  const dialog = h(
    'section',
    {
      class: 'panel confirm',
      role: 'alertdialog',
      'aria-labelledby': 'forget-title',
      'aria-describedby': 'forget-text',
    },
    h('h2', { id: 'forget-title' }, 'Forget your keys in this browser?'),
    h(
      'p',
      { id: 'forget-text' },
      `This deletes ${username}'s private keys from this browser and logs out. Keys you have not downloaded or kept elsewhere are gone for good: without them nobody can read this account's chats again.`,
    ),
    ...remind,
    h('div', { class: 'row' }, forget, cancel),
  );
  queueMicrotask(() => cancel.focus());
  return dialog;
}
