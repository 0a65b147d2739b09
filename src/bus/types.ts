/**
 * The bus is three ports, each with an in-memory adapter (one process) and a Redis adapter (several
 * instances): fan-out of events, the presence registry of connected sessions, and shared counters.
 */

/** Fan-out: `publish` reaches every instance's subscribers (this one included). */
export interface Fanout {
  publish(message: BusMessage): Promise<void>;
  subscribe(listener: (message: BusMessage) => void): () => void;
  /**
   * Called when the fan-out is back after an outage (Redis reconnected): what was published
   * meanwhile may never have arrived, such as the end of a session. In memory, never called.
   */
  onResume(listener: () => void): void;
  close(): Promise<void>;
}

/** The presence registry: which sessions are connected, on any instance. */
export interface PresenceRegistry {
  /**
   * Changes of a user's state that the registry finds by itself (not through connect/disconnect):
   * with Redis, the leases of a dead instance's sessions running out. In memory, never called.
   */
  onPresenceChange(listener: PresenceListener): void;
  /** Marks one session connected; true when its user was offline until now. */
  connect(username: string, sessionId: string): Promise<boolean>;
  /** Marks one session gone; true when its user has no connected session left. */
  disconnect(username: string, sessionId: string): Promise<boolean>;
  isOnline(username: string): Promise<boolean>;
  /** Sorted usernames. */
  onlineUsers(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * Fixed-window counters shared by every instance (failed logins): with Redis, an attacker gets the
 * same budget however many instances a load balancer spreads them over.
 */
export interface Counters {
  counter(name: string, limit: number, windowMs: number): SharedCounter;
}

export interface SharedCounter {
  /** Seconds until `key` may try again, or 0 when it is under its limit. */
  blockedFor(key: string): Promise<number>;
  hit(key: string): Promise<void>;
  /** Counts one attempt and checks it in one step: 0, or seconds to wait when it is over the limit. */
  take(key: string): Promise<number>;
  /** Gives back one attempt counted by `take` (it succeeded, or was never evaluated). */
  give(key: string): Promise<void>;
  reset(key: string): Promise<void>;
}

/** The three ports of one backend, opened together (with Redis they share its connections). */
export interface Bus {
  fanout: Fanout;
  registry: PresenceRegistry;
  counters: Counters;
  /** Resolves when the bus answers (Redis: both connections up and a PING answered); throws if not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type BusMessage =
  /** An event for the streams of `to` (or of everyone connected); `id` only on stored events. */
  | { kind: 'event'; type: string; data: string; id?: number; to: string[] | 'everyone' }
  /** Close the streams of one session (logout, expiry) wherever they are held. */
  | { kind: 'close-session'; sessionId: string; username: string }
  /** A user's keys or standing changed (keys replaced, removed): every instance forgets what it cached. */
  | { kind: 'user-changed'; username: string };

export type PresenceListener = (username: string, online: boolean) => void;
