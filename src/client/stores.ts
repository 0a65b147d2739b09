import { type Fingerprints, sameFingerprints } from './keys.js';
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
  /**
   * Accounts over time: every key set this client has trusted as the user's at some time (their
   * keys and the chain of changes before them at first contact, and the keys pinned before each
   * acceptance). The keys a change replaced are used only if they are one of these.
   */
  knownKeySets(username: string): readonly Fingerprints[];
  /** Adds to `knownKeySets` the sets it lacks; persists before it resolves. */
  addKnownKeySets(username: string, sets: readonly Fingerprints[]): Promise<void>;
}

/** `known` with each of `sets` it lacks added. */
export function withKeySets(known: readonly Fingerprints[], sets: readonly Fingerprints[]): Fingerprints[] {
  const all = [...known];
  for (const set of sets) if (!all.some((k) => sameFingerprints(k, set))) all.push(set);
  return all;
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
  readonly keySets = new Map<string, Fingerprints[]>();
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
  knownKeySets(username: string) {
    return this.keySets.get(username) ?? [];
  }
  async addKnownKeySets(username: string, sets: readonly Fingerprints[]) {
    this.keySets.set(username, withKeySets(this.knownKeySets(username), sets));
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
