import type { EpochStore, Fingerprints, KeyEnvelope, PinStore } from '../../src/client/index.js';
import { idbGet, idbPut } from './db.js';

interface Saved {
  servers: Record<string, string>;
  users: Record<string, Fingerprints>;
  epochs: Record<string, number>;
  envelopes: Record<string, KeyEnvelope>;
}

/**
 * The pins (server key, peers' fingerprints) and the highest epoch and envelopes per chat, for
 * one user on this browser, in IndexedDB: what the CLI keeps in its trust file. Read once at
 * login; every change is written before the call that made it resolves.
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
    return new BrowserStores(key, saved ?? { servers: {}, users: {}, epochs: {}, envelopes: {} });
  }

  private save(): Promise<void> {
    const snapshot = structuredClone(this.data);
    this.writing = this.writing.catch(() => undefined).then(() => idbPut(this.key, snapshot));
    return this.writing;
  }

  pinnedServer(origin: string) {
    return this.data.servers[origin];
  }
  pinServer(origin: string, fingerprint: string) {
    this.data.servers[origin] = fingerprint;
    return this.save();
  }
  pinnedUser(username: string) {
    return Object.hasOwn(this.data.users, username) ? this.data.users[username] : undefined;
  }
  pinUser(username: string, fingerprints: Fingerprints) {
    this.data.users[username] = fingerprints;
    return this.save();
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
    return this.save();
  }
}
