import {
  Api,
  generateKeyStore,
  keySetFingerprint,
  keyStoreFingerprints,
  type PemKeyPairSet,
  replaceKeys,
  type SignatureProvider,
  type UserKeys,
} from '../../src/client/index.js';
import { reason } from './dom.js';
import { keepNewKeys } from './keyring.js';
import type { AccountActions } from './panels/account.js';
import type { ResetAccount } from './panels/reset.js';
import type { WebSession } from './session.js';
import { workerDsaKeyGenerator } from './workers/protocol.js';

/**
 * Accounts over time in the page (protocol.md): the Account dialog's actions (change password,
 * replace keys, log out everywhere) and what follows a reset with a code. The page's state and
 * its screens are main.ts's; it hands them over as a {@link PageControl}.
 */
export interface PageControl {
  provider: SignatureProvider;
  session(): WebSession | undefined;
  /** Sets the page's session (undefined: a stream that ends now is not said as "your session ended"). */
  setSession(session: WebSession | undefined): void;
  /** The download of a key store made here, then `then`; `changed` says which key change made it. */
  offer(
    username: string,
    keys: PemKeyPairSet,
    problem: string | undefined,
    changed: { heading: string; said: string[] },
    then: () => Promise<void> | void,
  ): void;
  showLogin(notice?: string): void;
  login(username: string, password: string): Promise<void>;
  startChat(username: string, keys: UserKeys): Promise<void>;
  askForKeys(username: string): void;
  logOut(notice?: string): Promise<void>;
}

/** The old key files of a terminal still open what was sent to them: kept aside, as `keys replace` does. */
const ASIDE =
  'If a terminal has your old key files, move them aside first (they open what was sent to them).';

/** Reset with a code: the new keys kept here (the server took them), offered, then a login. */
export async function wasReset(page: PageControl, { username, password, keys }: ResetAccount): Promise<void> {
  let problem: string | undefined;
  try {
    await keepNewKeys(username, keys, page.provider);
  } catch (error) {
    problem = `${reason(error)} Your account was reset: download the key store, and pick it after you log in.`;
  }
  const all = await keySetFingerprint(await keyStoreFingerprints(keys));
  page.offer(
    username,
    keys,
    problem,
    {
      heading: `Account ${username} reset`,
      said: [
        `Your old keys are gone and every session of yours has ended. The people you chat with are told that the administrator reset your keys: read them your new fingerprint, ${all}, so that they can compare it before they trust it.`,
        ASIDE,
      ],
    },
    () =>
      password === undefined
        ? page.showLogin(`Your keys were reset: log in as ${username} with your password.`)
        : page.login(username, password),
  );
}

/**
 * What the Account dialog does, on this page's session. Keys made for a refused replacement (a
 * mistyped password) are kept for the next try, as Create account keeps them.
 */
export function accountActions(page: PageControl, username: string): AccountActions {
  let made: PemKeyPairSet | undefined;
  const current = () => {
    const session = page.session();
    if (!session || session.username !== username) throw new Error('You are not logged in here any more.');
    return session;
  };
  return {
    changePassword: (currentPassword: string, newPassword: string) =>
      current().api.changePassword({ currentPassword, newPassword }),
    logOutEverywhere: async () => {
      const s = current();
      // on a copy: a failed request leaves this page's token as it was
      const everywhere = new Api({ server: s.api.server });
      everywhere.token = s.api.token;
      // the stream that the request ends is not said as "your session ended"
      page.setSession(undefined);
      try {
        await everywhere.logout({ everywhere: true });
      } finally {
        page.setSession(s);
      }
      await page.logOut('You logged out everywhere: every session of yours has ended.');
    },
    replaceKeys: async (password: string, say: (text: string) => void) => {
      const s = current();
      if (!made) {
        say('Making keys… this can take a minute.');
        made = await generateKeyStore({ dsa: workerDsaKeyGenerator });
      }
      const next = made;
      say('Registering the new keys…');
      const done = await replaceKeys(s.api, {
        username,
        password,
        current: s.keys,
        provider: page.provider,
        next,
      });
      // the server took them: the old keys' session stops (the login goes on), the new keys are kept
      made = undefined;
      page.setSession(undefined);
      s.detach();
      let kept: UserKeys | undefined;
      let problem: string | undefined;
      try {
        kept = await keepNewKeys(username, next, page.provider);
      } catch (error) {
        problem = `${reason(error)} Your keys were replaced: download the key store, and pick it to go on.`;
      }
      const all = await keySetFingerprint(done.fingerprints);
      page.offer(
        username,
        next,
        problem,
        {
          heading: 'Keys replaced',
          said: [
            `Your new keys' fingerprint (all keys) is ${all}. Every chat of yours has a new epoch. The people you chat with are told that you replaced your keys, signed with your old key, and read your new messages once they accept your new fingerprints. Your old keys stay in this browser, to open what was sent to them.`,
            ASIDE,
          ],
        },
        () => (kept ? page.startChat(username, kept) : page.askForKeys(username)),
      );
    },
  };
}
