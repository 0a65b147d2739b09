/**
 * What survives a reload of the tab: the session's token and user, and the chat open, in the
 * tab's sessionStorage (gone with the tab); and the service worker (workers/session-keeper.ts)
 * that revokes the token shortly after the page went away unless it came back. See
 * docs/web-client.md, "What the page keeps".
 */

import type { Api } from '../../src/client/index.js';

/** The hashed URL of the service worker's bundle, set by web/build.ts at build time. */
declare const SECURECHAT_SESSION_WORKER: string;

/** The Trusted Types policy that lets exactly that URL through (CSP `trusted-types`, src/plugins/web.ts). */
const POLICY = 'securechat-session-worker';
const SESSION = 'securechat.session';
const OPEN_CHAT = 'securechat.chat';

export interface KeptSession {
  username: string;
  token: string;
}

let worker: ServiceWorker | undefined;

function workerUrl(): string {
  const types = (
    globalThis as {
      trustedTypes?: {
        createPolicy(
          n: string,
          r: { createScriptURL(u: string): string },
        ): { createScriptURL(u: string): unknown };
      };
    }
  ).trustedTypes;
  if (!types) return SECURECHAT_SESSION_WORKER;
  return types
    .createPolicy(POLICY, {
      createScriptURL(url) {
        if (url !== SECURECHAT_SESSION_WORKER) throw new TypeError(`not the session worker's URL: ${url}`);
        return url;
      },
    })
    .createScriptURL(SECURECHAT_SESSION_WORKER) as string;
}

/**
 * Registers the service worker (once per page) and, if this tab kept a session, tells the worker
 * it is back (its revocation is cancelled). Resolves once the worker is active, or at once where
 * there is none (then closing the page revokes the token at once, as before).
 */
export async function keepSessions(back?: string): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  try {
    const registration = await navigator.serviceWorker.register(workerUrl(), { scope: '/assets/' });
    const candidate = registration.active ?? registration.waiting ?? registration.installing;
    if (!candidate) return;
    if (candidate.state !== 'activated')
      await new Promise<void>((resolve) =>
        candidate.addEventListener('statechange', () => candidate.state === 'activated' && resolve()),
      );
    worker = candidate;
    if (back) worker.postMessage({ type: 'back', token: back });
  } catch {
    worker = undefined;
  }
}

/** On pagehide: hands the token to the worker; false if there is none (then revoke it now). */
export function leaving(token: string): boolean {
  if (worker?.state !== 'activated') return false;
  worker.postMessage({ type: 'leaving', token });
  return true;
}

export function keptSession(): KeptSession | undefined {
  try {
    const kept = JSON.parse(sessionStorage.getItem(SESSION) ?? 'null') as Partial<KeptSession> | null;
    if (typeof kept?.username === 'string' && typeof kept.token === 'string')
      return { username: kept.username, token: kept.token };
  } catch {
    // not ours, or not JSON: nothing kept
  }
  return undefined;
}

export function keepSession(session: KeptSession | undefined): void {
  if (session) sessionStorage.setItem(SESSION, JSON.stringify(session));
  else {
    sessionStorage.removeItem(SESSION);
    sessionStorage.removeItem(OPEN_CHAT);
  }
}

export const keptChat = (): string | undefined => sessionStorage.getItem(OPEN_CHAT) ?? undefined;
export const keepChat = (chatId: string): void => sessionStorage.setItem(OPEN_CHAT, chatId);

/**
 * Closing the tab (or leaving the page) revokes the token, and a reload keeps it: `pagehide` cannot
 * tell the two apart, so the token goes to the service worker (below), which revokes it
 * shortly after unless this tab's page comes back and says so. Without a service worker, a keepalive
 * request revokes it at once (a reload then logs out). A page restored from the back-forward cache
 * starts again, as a reload.
 */
export function revokeOnLeave(current: () => Api | undefined): void {
  addEventListener('pagehide', () => {
    const api = current();
    if (!api?.token) return;
    if (leaving(api.token)) return;
    keepSession(undefined);
    fetch(`${api.server}/auth/logout`, {
      method: 'POST',
      keepalive: true,
      headers: { authorization: `Bearer ${api.token}` },
    }).catch(() => undefined);
    api.token = undefined;
  });
  addEventListener('pageshow', (event) => {
    if (event.persisted) location.reload();
  });
}
