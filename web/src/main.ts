/**
 * The Secure Chat web client: log in, load the key store, then chat. All cryptography happens
 * here, in the page, through the client library (src/client/), exactly as the CLI does it.
 */
import {
  Api,
  browserSignatures,
  type PemKeyPairSet,
  showControlsAs,
  type UserKeys,
} from '../../src/client/index.js';
import { accountActions, type PageControl, wasReset } from './account.js';
import { Attention, notificationSettings } from './attention.js';
import { h, reason, replace } from './dom.js';
import { keepChat, keepSession, keepSessions, keptChat, keptSession, revokeOnLeave } from './kept-session.js';
import { forgetKeys, keptKeys, loadKeyStore } from './keyring.js';
import { accountDialog } from './panels/account.js';
import { ChatPanel } from './panels/chat.js';
import { chatsPanel } from './panels/chats.js';
import { forgetDialog, type Undownloaded } from './panels/forget.js';
import { keysPanel } from './panels/keys.js';
import { loginPanel } from './panels/login.js';
import { presencePanel } from './panels/presence.js';
import {
  createdPanel,
  keyStoreArchive,
  type NewAccount,
  pickedKeyFiles,
  registerPanel,
} from './panels/register.js';
import { resetPanel } from './panels/reset.js';
import { trustPanel } from './panels/trust.js';
import { WebSession } from './session.js';
import { connectionText } from './session-event.js';
import { BrowserStores } from './stores.js';
import { BrowserTranscriptStore } from './transcript.js';

// the library's own messages quote what the server sent as the page shows it: ⟨U+202E⟩, not \u202e
showControlsAs('code point');

const app = document.getElementById('app') as HTMLElement;
const account = document.getElementById('account') as HTMLElement;
const connection = document.getElementById('connection') as HTMLElement;
const provider = browserSignatures();

let api: Api | undefined;
let session: WebSession | undefined;
/** The key store of an account made here whose download was skipped (memory only, this page's life). */
let undownloaded: { username: string; archive: Undownloaded } | undefined;
const SKIPPED_SETTING = (username: string) => `securechat.skipped-download.${username}`;
const skippedDownload = (username: string) => localStorage.getItem(SKIPPED_SETTING(username)) === '1';

revokeOnLeave(() => api);

function showLogin(notice?: string): void {
  document.title = 'Secure Chat';
  replace(account);
  replace(connection);
  replace(app, loginPanel(login, showRegister, showReset, notice));
}

function showReset(): void {
  replace(
    app,
    resetPanel((account) => wasReset(control, account), showLogin),
  );
}

function showRegister(): void {
  replace(app, registerPanel(created, showLogin));
}

/**
 * A new account: logged in at once, its keys kept (non-extractable) as the key store picker keeps
 * them, and the key store offered for download. Whatever fails here, the account exists and the
 * download is still offered: the keys made in the page must not be lost with a failed login.
 */
async function created({ username, password, keys }: NewAccount): Promise<void> {
  let kept: UserKeys | undefined;
  let problem: string | undefined;
  try {
    const fresh = new Api({ server: location.origin });
    await fresh.login(username, password);
    api = fresh;
    keepSession(fresh.token ? { username, token: fresh.token } : undefined);
    showAccount(username, false);
    kept = await loadKeyStore(pickedKeyFiles(keys), username, fresh, provider);
    showAccount(username, true);
  } catch (error) {
    problem = `${reason(error)} Your account exists: download the key store, then log in.`;
  }
  offer(username, keys, problem, undefined, () =>
    kept ? startChat(username, kept) : api ? askForKeys(username) : showLogin(),
  );
}

/** The download of a key store made here, then `then`; `changed` says which key change made it. */
function offer(
  username: string,
  keys: PemKeyPairSet,
  problem: string | undefined,
  changed: { heading: string; said: string[] } | undefined,
  then: () => Promise<void> | void,
): void {
  const archive = keyStoreArchive(username, keys);
  const next = (downloaded: boolean) => {
    // skipped: remembered, so that Forget keys reminds before deleting the only copy
    if (!downloaded) {
      undownloaded = { username, archive };
      localStorage.setItem(SKIPPED_SETTING(username), '1');
    }
    return then();
  };
  replace(app, createdPanel(username, archive, next, problem, changed));
}

async function login(username: string, password: string): Promise<void> {
  const fresh = new Api({ server: location.origin });
  await fresh.login(username, password);
  await begin(fresh, username);
}

/** The session of a login, or of a reload (the token this tab kept). */
async function begin(fresh: Api, username: string): Promise<void> {
  api = fresh;
  keepSession(fresh.token ? { username, token: fresh.token } : undefined);
  showAccount(username, false);
  let kept: UserKeys | undefined;
  let problem: string | undefined;
  try {
    kept = await keptKeys(username, fresh, provider);
  } catch (error) {
    problem = reason(error);
  }
  if (kept) await startChat(username, kept);
  else askForKeys(username, problem);
}

function askForKeys(username: string, problem?: string): void {
  const current = api;
  if (!current) return;
  replace(
    app,
    keysPanel(
      username,
      async (files) => startChat(username, await loadKeyStore(files, username, current, provider)),
      problem,
    ),
  );
}

function showAccount(username: string, withKeys: boolean): void {
  const logout = h('button', { type: 'button' }, 'Log out');
  logout.addEventListener('click', () => void logOut());
  const forget = h('button', { type: 'button' }, 'Forget keys');
  forget.addEventListener('click', () => {
    if (document.getElementById('forget-title')) return;
    const dialog = forgetDialog(
      username,
      {
        archive: undownloaded?.username === username ? undownloaded.archive : undefined,
        skipped: skippedDownload(username),
      },
      async () => {
        await forgetKeys(username);
        localStorage.removeItem(SKIPPED_SETTING(username));
        await logOut();
      },
      () => dialog.remove(),
    );
    app.prepend(dialog);
  });
  const manage = h('button', { type: 'button' }, 'Account');
  manage.addEventListener('click', () => {
    if (document.getElementById('account-title')) return;
    const dialog = accountDialog(username, accountActions(control, username), () => dialog.remove());
    app.prepend(dialog);
  });
  replace(
    account,
    h('span', {}, `Logged in as ${username}`),
    ' ',
    withKeys && manage,
    ' ',
    withKeys && forget,
    ' ',
    logout,
  );
}

async function logOut(notice?: string): Promise<void> {
  const s = session;
  const a = api;
  session = undefined;
  api = undefined;
  keepSession(undefined);
  if (s) await s.close();
  else await a?.logout().catch(() => undefined);
  showLogin(notice);
}

async function startChat(username: string, keys: UserKeys): Promise<void> {
  const current = api;
  if (!current) return;
  const s = new WebSession(
    current,
    username,
    keys,
    await BrowserStores.load(username),
    provider,
    await BrowserTranscriptStore.load(username),
  );
  session = s;
  s.on((event) => {
    if (event.type !== 'status') return;
    connection.dataset.state = event.state;
    replace(connection, connectionText(event));
    // the stream ended for good (the token expired or was revoked): nothing of the session stays
    // on the screen, and it takes the password again
    if (event.state === 'stopped' && session === s)
      void logOut(`Your session ended (${event.detail ?? 'the server closed it'}): log in again.`);
  });
  const view = new ChatPanel(s);
  const attention = new Attention(s, () => view.current);
  const open = (chatId: string) => {
    view.open(chatId);
    keepChat(chatId);
    attention.seen();
    chats.render();
  };
  const chats = chatsPanel(
    s,
    open,
    () => view.current,
    (chatId) => attention.unread(chatId),
  );
  showAccount(username, true);
  replace(
    app,
    h(
      'div',
      { class: 'side' },
      presencePanel(s, open),
      chats.element,
      h('section', { class: 'panel', 'aria-label': 'Notifications' }, notificationSettings()),
      trustPanel(s, (sender) => view.retry(sender)),
    ),
    view.element,
  );
  replace(connection, 'Connecting…');
  try {
    await s.start();
    // after a reload: the chat that was open
    const kept = keptChat();
    if (kept && s.chats.has(kept) && view.current === undefined) open(kept);
  } catch (error) {
    // refused (a changed server key, an answer that does not check): logged out at once, as the
    // CLI does, so that no live token is left behind a page that cannot be used
    if (session === s) await logOut(reason(error));
  }
}

/**
 * A reload: this tab's session goes on where it was (the token checked by the first request; a
 * revoked or expired one shows the login). Otherwise the login.
 */
async function resume(): Promise<void> {
  const kept = keptSession();
  const ready = keepSessions(kept?.token);
  if (!kept) return showLogin();
  await ready;
  const fresh = new Api({ server: location.origin });
  fresh.token = kept.token;
  try {
    await fresh.listOnlineUsers();
  } catch {
    // revoked (the page was gone too long) or expired
    keepSession(undefined);
    return showLogin('Your session ended: log in again.');
  }
  await begin(fresh, kept.username);
}

/** What account.ts's flows use of this page. */
const control: PageControl = {
  provider,
  session: () => session,
  setSession: (s) => {
    session = s;
  },
  offer,
  showLogin,
  login,
  startChat,
  askForKeys,
  logOut,
};

void resume();
