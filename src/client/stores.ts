import type { Fingerprints } from './keys.js';
import type { AnyKeyEnvelope as KeyEnvelope } from './members.js';

/**
 * Trust on first use: the server key's and each peer's fingerprints, pinned the first time they
 * are seen. The CLI keeps them in a file, a browser in IndexedDB.
 */
export interface PinStore {
  pinnedServer(origin: string): string | undefined;
  pinServer(origin: string, fingerprint: string): Promise<void>;
  pinnedUser(username: string): Fingerprints | undefined;
  pinUser(username: string, fingerprints: Fingerprints): Promise<void>;
}

/**
 * The highest epoch seen per chat (an envelope of a lower one is refused, even after a restart)
 * and the envelopes received (wrapped keys, useless without the private key). In a members-mode
 * chat the verified envelopes are also this client's own record of each epoch's members and
 * committer, against which the next epoch is checked.
 */
export interface EpochStore {
  highestEpoch(chatId: string): number | undefined;
  envelope(chatId: string, epoch: number): KeyEnvelope | undefined;
  /** Records the envelope, and its epoch if higher; persists before it resolves. */
  record(envelope: KeyEnvelope): Promise<void>;
}

/** Both stores in memory: for tests, the bench and a client that keeps nothing. */
export class MemoryStores implements PinStore, EpochStore {
  readonly servers = new Map<string, string>();
  readonly users = new Map<string, Fingerprints>();
  readonly epochs = new Map<string, number>();
  readonly envelopes = new Map<string, KeyEnvelope>();

  pinnedServer(origin: string) {
    return this.servers.get(origin);
  }
  async pinServer(origin: string, fingerprint: string) {
    this.servers.set(origin, fingerprint);
  }
  pinnedUser(username: string) {
    return this.users.get(username);
  }
  async pinUser(username: string, fingerprints: Fingerprints) {
    this.users.set(username, fingerprints);
  }
  highestEpoch(chatId: string) {
    return this.epochs.get(chatId);
  }
  envelope(chatId: string, epoch: number) {
    return this.envelopes.get(`${chatId}/${epoch}`);
  }
  async record(envelope: KeyEnvelope) {
    if ((this.epochs.get(envelope.chatId) ?? 0) < envelope.epoch)
      this.epochs.set(envelope.chatId, envelope.epoch);
    this.envelopes.set(`${envelope.chatId}/${envelope.epoch}`, envelope);
  }
}
