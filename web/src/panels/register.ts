import {
  Api,
  generateKeyStore,
  isUsername,
  keyStoreFiles,
  type PemKeyPairSet,
  register,
  utf8,
} from '../../../src/client/index.js';
import { field, h, onSubmit, reason, replace } from '../dom.js';
import { DSA_PUBLIC_FILE } from '../keyring.js';
import { tar } from '../tar.js';
import { workerDsaKeyGenerator } from '../workers/protocol.js';
import { download as saveArchive } from './forget.js';

/** A user who registered in this page, with the key store made here (PEM, extractable copies). */
export interface NewAccount {
  username: string;
  password: string;
  keys: PemKeyPairSet;
}

/** The password rules of registration (user:add's): bcrypt reads no more than 72 bytes. */
const MIN_PASSWORD_CHARACTERS = 8;
const MAX_PASSWORD_BYTES = 72;

/** What is wrong with a new password and its repetition, by the registration rules; undefined if nothing. */
export function passwordProblem(password: string, repeat: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_CHARACTERS)
    return `The password needs at least ${MIN_PASSWORD_CHARACTERS} characters.`;
  if (utf8(password).length > MAX_PASSWORD_BYTES)
    return `The password may have at most ${MAX_PASSWORD_BYTES} bytes (UTF-8): a longer one would be cut short.`;
  if (password !== repeat) return 'The two passwords differ.';
  return undefined;
}

export const USERNAME_RULE =
  'A username is 1 to 32 of a-z, 0-9, "_", "." and "-", starting with a letter or digit.';

function refusal(username: string, password: string, repeat: string, code: string): string | undefined {
  if (!isUsername(username)) return USERNAME_RULE;
  const problem = passwordProblem(password, repeat);
  if (problem) return problem;
  if (!code) return 'Enter the registration code your administrator gave you.';
  return undefined;
}

export const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * "Create account": self-registration with a one-time code (POST /users). The four key pairs are
 * made here, in this browser (WebCrypto for RSA and Ed25519, DSA in BigInt in a Web Worker), and
 * only their public halves are sent. A refused registration keeps the keys for the next try, so
 * a mistyped code costs no second minute of key generation.
 */
export function registerPanel(
  onCreated: (account: NewAccount) => Promise<void>,
  onBack: () => void,
): HTMLElement {
  const username = h('input', {
    name: 'username',
    autocomplete: 'username',
    required: true,
    spellcheck: 'false',
  });
  const password = h('input', {
    name: 'new-password',
    type: 'password',
    autocomplete: 'new-password',
    required: true,
  });
  const repeat = h('input', {
    name: 'repeat-password',
    type: 'password',
    autocomplete: 'new-password',
    required: true,
  });
  const code = h('input', { name: 'code', autocomplete: 'off', required: true, spellcheck: 'false' });
  const busy = h('p', { role: 'status' });
  const out = h('p', { role: 'alert', class: 'error' });
  // in the form: disabled with the rest while keys are made and sent, so no registration runs on unseen
  const back = h('button', { type: 'button' }, 'Back to log in');
  back.addEventListener('click', onBack);
  const form = h(
    'form',
    { class: 'stack' },
    field('Username', username),
    field('Password', password),
    field('Repeat password', repeat),
    field('Registration code', code),
    h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Create account'), back),
    busy,
    out,
  );
  let keys: PemKeyPairSet | undefined;
  onSubmit(form, out, async () => {
    const name = username.value.trim();
    const problem = refusal(name, password.value, repeat.value, code.value.trim());
    if (problem) throw new Error(problem);
    try {
      if (!keys) {
        replace(busy, 'Making keys… this can take a minute.');
        keys = await generateKeyStore({ dsa: workerDsaKeyGenerator });
      }
      replace(busy, 'Registering…');
      await register(new Api({ server: location.origin }), {
        username: name,
        password: password.value,
        code: code.value.trim(),
        keys,
      });
      replace(busy, 'Logging in…');
      const account = { username: name, password: password.value, keys };
      keys = undefined;
      password.value = '';
      repeat.value = '';
      code.value = '';
      await onCreated(account);
    } catch (error) {
      throw new Error(sentence(reason(error)));
    } finally {
      replace(busy);
    }
  });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'register-title' },
    h('h2', { id: 'register-title' }, 'Create account'),
    h(
      'p',
      { class: 'note', id: 'register-note' },
      'Your keys are made in this browser and never sent: only their public halves go to the server. ' +
        'The private keys are kept here as keys that cannot be read back, and offered to you once as a ' +
        'download (for the command-line client or another browser). Making them takes a minute.',
    ),
    form,
  );
}

/**
 * The key store as one download: a tar of the eight files of the protocol's key store folder,
 * `users/<name>/` (private keys 0600 in a 0700 folder), for `tar -xf FILE -C <keys folder>`.
 */
export function keyStoreArchive(username: string, keys: PemKeyPairSet): { name: string; blob: Blob } {
  const dir = `users/${username}/`;
  const entries = [
    { path: dir, mode: 0o700 },
    ...keyStoreFiles(keys).map((f) => ({
      path: `${dir}${f.name}`,
      mode: f.private ? 0o600 : 0o644,
      content: f.content,
    })),
  ];
  return { name: `${username}-keystore.tar`, blob: new Blob([tar(entries)], { type: 'application/x-tar' }) };
}

/**
 * The files of a key store the key store picker reads, as it would have read them from the
 * folder: the private keys, and the public DSA key the server's copy is checked against.
 */
export function pickedKeyFiles(keys: PemKeyPairSet): File[] {
  return keyStoreFiles(keys)
    .filter((f) => f.private || f.name === DSA_PUBLIC_FILE)
    .map((f) => new File([f.content], f.name, { type: 'application/x-pem-file' }));
}

/**
 * After "Create account": the one-click download of the key store, with how to use it, and the
 * way on into the chat. `problem` says why the user is not logged in yet (the account exists).
 */
export function createdPanel(
  username: string,
  archive: { name: string; blob: Blob },
  onContinue: (downloaded: boolean) => Promise<void> | void,
  problem?: string,
  /** A key change (Replace keys, a reset) says so, and what it means, in place of "created". */
  changed?: { heading: string; said: string[] },
): HTMLElement {
  const out = h('p', { role: 'alert', class: 'error' }, problem);
  const done = h('p', { role: 'status' });
  const download = h('button', { type: 'button' }, 'Download key store');
  download.addEventListener('click', () => {
    saveArchive(archive);
    replace(done, `Saved as ${archive.name} (in your downloads).`);
    saved = true;
  });
  let saved = false;
  let warned = false;
  const next = h('button', { type: 'button' }, 'Continue');
  next.addEventListener('click', async () => {
    if (!saved && !warned) {
      warned = true;
      replace(
        out,
        'You have not downloaded your key store: without it this account can be used only in this browser, ' +
          'and forgetting its keys here loses them. Continue again to go on without it.',
      );
      return;
    }
    replace(out);
    next.disabled = true;
    try {
      await onContinue(saved);
    } catch (error) {
      replace(out, reason(error));
    } finally {
      next.disabled = false;
    }
  });
  return h(
    'section',
    { class: 'panel', 'aria-labelledby': 'created-title' },
    h('h2', { id: 'created-title' }, changed?.heading ?? `Account ${username} created`),
    ...(changed?.said ?? []).map((text) => h('p', {}, text)),
    h(
      'p',
      {},
      'Download your key store now. It is the only copy of your private keys outside this browser, ' +
        'which keeps them where not even this page can read them back: without it you can read your ' +
        'chats only here. Keep it as safe as a password.',
    ),
    download,
    done,
    h(
      'p',
      { class: 'note' },
      'For the command-line client, unpack it into its keys folder: ',
      h('code', {}, `mkdir -p ~/.securechat && tar -xf ${archive.name} -C ~/.securechat`),
      ` (or -C keys for npm run cli), then: securechat --user ${username}. ` +
        `In another browser, log in and pick the folder users/${username}/ it unpacks to.`,
    ),
    next,
    out,
  );
}
