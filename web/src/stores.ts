import {
  ClientError,
  type EpochStore,
  type Fingerprints,
  type KeyEnvelope,
  type PinStore,
  sameFingerprints,
  withKeySets,
} from '../../src/client/index.js';
import { idbGet, idbUpdate } from './db.js';

interface Saved {
  servers: Record<string, string>;
  users: Record<string, Fingerprints>;
  epochs: Record<string, number>;
  envelopes: Record<string, KeyEnvelope>;
  /** Accounts over time: every key set trusted as each user's at some time (`knownKeySets`). */
  keySets?: Record<string, Fingerprints[]>;
}

const empty = (): Saved => ({ servers: {}, users: {}, epochs: {}, envelopes: {}, keySets: {} });

/**
 * The pins (server key, peers' fingerprints) and the highest epoch and envelopes per chat, for
 * one user on this browser, in IndexedDB: what the CLI keeps in its trust file. Read at login;
 * every change is written before the call that made it resolves, merged into what is stored
 * (another tab of the same user may have written meanwhile): epochs only ever rise, envelopes
 * and pins of others are kept, and a pin is replaced only if it is still the one this tab had.
 */
export class BrowserStores implements PinStore, EpochStore {
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly key: string,
    private readonly data: Saved,
  ) {}

  static async load(username: string): Promise<BrowserStores> {
    const key = `state/${username}`;
    const saved = await idbGet<Saved>(key);
    return new BrowserStores(key, saved ?? empty());
  }

  /** Applies `change` to the stored value in one transaction, then takes in what other tabs wrote. */
  private save(change: (stored: Saved) => void): Promise<void> {
    this.writing = this.writing
      .catch(() => undefined)
      .then(async () => {
        const stored = await idbUpdate<Saved>(this.key, (value) => {
          const next = value ?? empty();
          change(next);
          return next;
        });
        this.learn(stored);
      });
    return this.writing;
  }

  /** What another tab pinned or saw: pins this tab has not got, higher epochs, more envelopes. */
  private learn(stored: Saved): void {
    for (const part of ['servers', 'users', 'envelopes'] as const)
      for (const [k, v] of Object.entries(stored[part]))
        if (!Object.hasOwn(this.data[part], k)) (this.data[part] as Record<string, unknown>)[k] = v;
    for (const [name, sets] of Object.entries(stored.keySets ?? {}))
      this.setKeySets(name, withKeySets(this.knownKeySets(name), sets));
    for (const [chatId, epoch] of Object.entries(stored.epochs))
      if ((this.highestEpoch(chatId) ?? 0) < epoch) this.data.epochs[chatId] = epoch;
  }

  /**
   * Pins `value` under `name` unless another tab pinned something else there since this tab read
   * it: that pin stays (and this tab takes it), and this change is refused.
   */
  private pin<T>(
    part: 'servers' | 'users',
    name: string,
    value: T,
    same: (a: T, b: T) => boolean,
    what: string,
  ): Promise<void> {
    const mine = this.data[part] as Record<string, T>;
    const had = Object.hasOwn(mine, name) ? mine[name] : undefined;
    mine[name] = value;
    return this.save((saved) => {
      const stored = saved[part] as Record<string, T>;
      const now = Object.hasOwn(stored, name) ? stored[name] : undefined;
      if (now !== undefined && !same(now, value) && (had === undefined || !same(now, had))) {
        mine[name] = now;
        throw new ClientError(
          `${what} was pinned differently in another tab of this browser meanwhile; nothing changed (reload the page)`,
        );
      }
      stored[name] = value;
    });
  }

  pinnedServer(origin: string) {
    return Object.hasOwn(this.data.servers, origin) ? this.data.servers[origin] : undefined;
  }
  pinServer(origin: string, fingerprint: string) {
    return this.pin<string>('servers', origin, fingerprint, (a, b) => a === b, "the server's key");
  }
  pinnedUser(username: string) {
    return Object.hasOwn(this.data.users, username) ? this.data.users[username] : undefined;
  }
  pinUser(username: string, fingerprints: Fingerprints) {
    return this.pin<Fingerprints>('users', username, fingerprints, sameFingerprints, `${username}'s keys`);
  }
  knownKeySets(username: string): readonly Fingerprints[] {
    const sets = this.data.keySets ?? {};
    return Object.hasOwn(sets, username) && Array.isArray(sets[username]) ? sets[username] : [];
  }
  private setKeySets(username: string, sets: Fingerprints[]): void {
    this.data.keySets ??= {};
    this.data.keySets[username] = sets;
  }
  addKnownKeySets(username: string, sets: readonly Fingerprints[]) {
    this.setKeySets(username, withKeySets(this.knownKeySets(username), sets));
    return this.save((stored) => {
      stored.keySets ??= {};
      const had = Object.hasOwn(stored.keySets, username) ? stored.keySets[username] : [];
      stored.keySets[username] = withKeySets(Array.isArray(had) ? had : [], sets);
    });
  }
  /** Every peer pinned, by name. */
  pinnedUsers(): [string, Fingerprints][] {
    return Object.entries(this.data.users).sort(([a], [b]) => (a < b ? -1 : 1));
  }
  highestEpoch(chatId: string) {
    return Object.hasOwn(this.data.epochs, chatId) ? this.data.epochs[chatId] : undefined;
  }
  envelope(chatId: string, epoch: number) {
    const key = `${chatId}/${epoch}`;
    return Object.hasOwn(this.data.envelopes, key) ? this.data.envelopes[key] : undefined;
  }
  record(envelope: KeyEnvelope) {
    if ((this.highestEpoch(envelope.chatId) ?? 0) < envelope.epoch)
      this.data.epochs[envelope.chatId] = envelope.epoch;
    this.data.envelopes[`${envelope.chatId}/${envelope.epoch}`] = envelope;
    return this.save((stored) => {
      if ((stored.epochs[envelope.chatId] ?? 0) < envelope.epoch)
        stored.epochs[envelope.chatId] = envelope.epoch;
      stored.envelopes[`${envelope.chatId}/${envelope.epoch}`] = envelope;
    });
  }
}
