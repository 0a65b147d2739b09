/**
 * The service worker that ends a session a little after its page went away, unless the page comes
 * back (a reload): `pagehide` cannot tell a reload from closing the tab, and a page that is gone
 * runs nothing. The page says `leaving` with its token as it goes; after {@link GRACE_MS} the
 * token is revoked (POST /auth/logout), unless the page that comes back (the same tab, which kept
 * the token in its sessionStorage) says `back` first. It holds tokens only for that while, in
 * memory, and intercepts nothing (its scope, /assets/, holds no page).
 */

/** How long a page has to come back: a reload takes well under a second; the presence grace is longer. */
const GRACE_MS = 10_000;

interface ExtendableMessageEvent {
  data: unknown;
  waitUntil(promise: Promise<unknown>): void;
}

/** The worker's global scope, as much of it as is used (the web build types only the DOM). */
const scope = self as unknown as {
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableMessageEvent) => void): void;
  addEventListener(type: 'message', listener: (event: ExtendableMessageEvent) => void): void;
  skipWaiting(): Promise<void>;
  clients: { claim(): Promise<void> };
};

/** Tokens waiting for their page, each with what cancels its revocation. */
const waiting = new Map<string, () => void>();

const tokenOf = (data: unknown, type: string): string | undefined => {
  const d = data as { type?: unknown; token?: unknown } | null;
  return d?.type === type && typeof d.token === 'string' && d.token.length < 4096 ? d.token : undefined;
};

scope.addEventListener('install', (event) => event.waitUntil(scope.skipWaiting()));
scope.addEventListener('activate', (event) => event.waitUntil(scope.clients.claim()));
scope.addEventListener('message', (event) => {
  const back = tokenOf(event.data, 'back');
  if (back !== undefined) waiting.get(back)?.();
  const token = tokenOf(event.data, 'leaving');
  if (token === undefined || waiting.has(token)) return;
  // the worker lives on until the revocation is sent or cancelled
  event.waitUntil(
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(token);
        fetch('/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } })
          .catch(() => undefined)
          .finally(resolve);
      }, GRACE_MS);
      waiting.set(token, () => {
        clearTimeout(timer);
        waiting.delete(token);
        resolve();
      });
    }),
  );
});
