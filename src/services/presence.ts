import type { Fanout, PresenceRegistry } from '../bus/types.js';
import { timestamp } from '../crypto/time.js';
import type { Store } from '../store/types.js';

interface Session {
  username: string;
  streams: number;
  connected: boolean;
  grace?: NodeJS.Timeout;
  expiry?: NodeJS.Timeout;
}

export interface PresenceDeps {
  bus: Fanout;
  registry: PresenceRegistry;
  store: Store;
  graceMs: number;
  onError: (error: unknown) => void;
}

/**
 * Presence as the protocol defines it: a session is connected from login for a grace period and
 * while it holds an /events stream; a user is online while any of their sessions is connected.
 * Every change of a user's online state goes to everyone connected as a `presence` event.
 */
export function createPresence({ bus, registry, store, graceMs, onError }: PresenceDeps) {
  const sessions = new Map<string, Session>();
  // Changes of one user's state are applied in order even when the bus is remote.
  const chains = new Map<string, Promise<void>>();

  function serialize(username: string, step: () => Promise<void>): Promise<void> {
    const next = (chains.get(username) ?? Promise.resolve()).then(step).catch(onError);
    chains.set(username, next);
    void next.then(() => {
      if (chains.get(username) === next) chains.delete(username);
    });
    return next;
  }

  async function announce(username: string, online: boolean): Promise<void> {
    // Told first: a store that does not answer delays only lastSeen, not the news.
    await bus.publish({
      kind: 'event',
      type: 'presence',
      data: JSON.stringify({ username, online }),
      to: 'everyone',
    });
    await store.setLastSeen(username, timestamp());
  }

  // Another instance's sessions that lapsed (it died) are announced by whichever instance notices.
  registry.onPresenceChange((username, online) => void serialize(username, () => announce(username, online)));

  function connect(id: string, session: Session): Promise<void> {
    if (session.connected) return Promise.resolve();
    session.connected = true;
    return serialize(session.username, async () => {
      if (await registry.connect(session.username, id)) await announce(session.username, true);
    });
  }

  function disconnect(id: string, session: Session): Promise<void> {
    clearTimeout(session.grace);
    session.grace = undefined;
    if (session.streams === 0) {
      clearTimeout(session.expiry);
      sessions.delete(id);
    }
    if (!session.connected) return Promise.resolve();
    session.connected = false;
    return serialize(session.username, async () => {
      if (await registry.disconnect(session.username, id)) await announce(session.username, false);
    });
  }

  function startGrace(id: string, session: Session): void {
    clearTimeout(session.grace);
    session.grace = setTimeout(() => void disconnect(id, session), graceMs);
    session.grace.unref();
  }

  /** Logout or expiry: the session is gone at once, and its streams are closed wherever they are. */
  async function end(id: string, username: string): Promise<void> {
    await bus.publish({ kind: 'close-session', sessionId: id, username });
    await forget(id);
  }

  /** This instance's part of a session that ended (here, or on another instance: the bus says). */
  async function forget(id: string): Promise<void> {
    const session = sessions.get(id);
    if (!session) return;
    session.streams = 0;
    await disconnect(id, session);
  }

  // Another instance ended a session whose streams (and so presence) this instance holds too.
  bus.subscribe((message) => {
    if (message.kind === 'close-session') void forget(message.sessionId);
  });

  function track(id: string, username: string, expiresAt: number): Session {
    let session = sessions.get(id);
    if (!session) {
      session = { username, streams: 0, connected: false };
      const onExpire = () => void end(id, username).catch(onError);
      session.expiry = setTimeout(onExpire, Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)));
      session.expiry.unref();
      sessions.set(id, session);
    }
    return session;
  }

  const presence = {
    /** Login: connected for the grace period; the session ends when its token expires. */
    loggedIn(id: string, username: string, expiresAt: number): Promise<void> {
      const session = track(id, username, expiresAt);
      if (session.streams === 0) startGrace(id, session);
      return connect(id, session);
    },
    streamOpened(id: string, username: string, expiresAt: number): Promise<void> {
      const session = track(id, username, expiresAt);
      session.streams += 1;
      clearTimeout(session.grace);
      session.grace = undefined;
      return connect(id, session);
    },
    streamClosed(id: string): void {
      const session = sessions.get(id);
      if (!session || session.streams === 0) return;
      session.streams -= 1;
      if (session.streams === 0 && session.connected) startGrace(id, session);
      else if (session.streams === 0) disconnect(id, session);
    },
    ended: end,
    isOnline: (username: string) => registry.isOnline(username),
    onlineUsers: () => registry.onlineUsers(),
    /** Waits for queued presence changes (tests, shutdown). */
    async settled(): Promise<void> {
      await Promise.all(chains.values());
    },
    close(): void {
      for (const session of sessions.values()) {
        clearTimeout(session.grace);
        clearTimeout(session.expiry);
      }
      sessions.clear();
    },
  };
  return presence;
}

export type Presence = ReturnType<typeof createPresence>;
