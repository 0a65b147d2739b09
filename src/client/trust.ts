import type { Api } from './api.js';
import { importServerKey } from './envelope.js';
import { ClientError, KeyChangedError, KeyCheckError } from './errors.js';
import {
  type ChangeKind,
  chainTo,
  changeKind,
  type KeyChangeRecord,
  previousKeys,
  reachedByContinuity,
} from './key-change.js';
import { checkedKeySet } from './key-set.js';
import {
  type Fingerprints,
  fingerprint,
  keySetFingerprint,
  type SignatureAlgorithm,
  sameFingerprints,
} from './keys.js';
import type { KeyHandle, SignatureProvider } from './signatures.js';
import type { PinStore } from './stores.js';
import { escapeControls } from './text.js';
import { checkUsername } from './validate.js';

/** Where a refusal sends the user: the client's own words for comparing and accepting keys. */
export interface TrustHints {
  /** Accepting a changed server key. */
  trustServer: string;
  /** Seeing the server key's fingerprint. */
  showServer: string;
  /** Seeing a user's fingerprints (the name is escaped). */
  compare(name: string): string;
  /** Accepting them. */
  trust(name: string): string;
}

const PLAIN_HINTS: TrustHints = {
  trustServer: 'accept the new key by its fingerprint',
  showServer: "compare the server key's fingerprint first",
  compare: (name) => `see ${name}'s fingerprints`,
  trust: (name) => `trust ${name}'s new keys by their fingerprint`,
};

export interface TrustOptions {
  api: Api;
  provider: SignatureProvider;
  pins: PinStore;
  /**
   * A changed server key is recorded in `serverChange` instead of refused, so that the user can
   * compare and accept it. Nothing is unwrapped meanwhile.
   */
  inspectServerKey?: boolean;
  /** How this client's user does what a refusal asks (the CLI names its commands). */
  hints?: TrustHints;
}

/**
 * Trust on first use (protocol.md, "What every client checks itself", 3): the server key and each
 * peer's keys are checked as registration checks them, pinned when first seen, and refused when
 * they change until the user accepts exactly the fingerprints compared.
 */
export class KeyTrust {
  readonly api: Api;
  readonly provider: SignatureProvider;
  serverKey?: CryptoKey;
  serverFingerprint?: string;
  /** Set (with `inspectServerKey`) when the server's key is not the pinned one. */
  serverChange?: { pinned: string; current: string };
  /** Peers whose key changed, with the new fingerprints, waiting for `trustUser`. */
  readonly changed = new Map<string, Fingerprints>();
  /** How each of `changed` changed: replaced with a continuity signature, reset, or unexplained. */
  readonly changeKinds = new Map<string, ChangeKind>();
  /** Each user's key changes as last fetched (`changes` of their keys), oldest first. */
  private readonly history = new Map<string, { changes: KeyChangeRecord[]; current: Fingerprints }>();
  private readonly peers = new Map<string, Record<SignatureAlgorithm, KeyHandle>>();
  /** Peers' encryption keys (SPKI PEM), from the same pinned key sets as `peers`. */
  private readonly peerEncryption = new Map<string, string>();
  /** Fingerprints shown to the user in this session: what a bare `trustUser` pins. */
  private readonly shown = new Map<string, Fingerprints>();
  private shownServer?: string;
  readonly hints: TrustHints;

  constructor(private readonly options: TrustOptions) {
    this.api = options.api;
    this.provider = options.provider;
    this.hints = options.hints ?? PLAIN_HINTS;
  }

  private async fetchServerKey(): Promise<{ key: CryptoKey; fp: string }> {
    const res = await this.api.getServerKey();
    const { key, der } = await importServerKey(res?.publicKey);
    return { key, fp: await fingerprint(der) };
  }

  async pinServerKey(): Promise<void> {
    const { key, fp } = await this.fetchServerKey();
    const pinned = this.options.pins.pinnedServer(this.api.server);
    if (pinned !== undefined && pinned !== fp) {
      if (this.options.inspectServerKey) {
        this.serverChange = { pinned, current: fp };
        return;
      }
      throw new KeyChangedError(
        `WARNING: the server's signing key CHANGED (pinned ${pinned}, now ${fp}). Someone may be impersonating it. ` +
          `If the operator confirms the new fingerprint, ${this.hints.trustServer}.`,
      );
    }
    // With `inspectServerKey` (showing the key to compare it) nothing is pinned on first use: only
    // a matching fingerprint given to trustServer() is.
    if (pinned === undefined && !this.options.inspectServerKey)
      await this.options.pins.pinServer(this.api.server, fp);
    this.serverKey = key;
    this.serverFingerprint = fp;
  }

  /** The server fingerprint shown to the user, remembered so that a bare `trustServer()` pins exactly it. */
  showServer(): { pinned?: string; current?: string } {
    const current = this.serverChange?.current ?? this.serverFingerprint;
    this.shownServer = current;
    return { pinned: this.options.pins.pinnedServer(this.api.server), current };
  }

  /** Pins the server key the server has now, only if it is the one compared: `given`, or the one shown. */
  async trustServer(given?: string): Promise<string> {
    const { key, fp } = await this.fetchServerKey();
    const expected = given?.toLowerCase() ?? this.shownServer;
    if (expected === undefined) {
      const pinned = this.options.pins.pinnedServer(this.api.server);
      throw new ClientError(
        `the server key is ${fp}${pinned && pinned !== fp ? ` (pinned: ${pinned})` : ''}; ` +
          `if the operator confirms it, ${this.hints.trustServer}`,
      );
    }
    if (expected !== fp)
      throw new ClientError(`the server's key is ${fp}, not the ${expected} you compared; nothing trusted`);
    await this.options.pins.pinServer(this.api.server, fp);
    this.serverKey = key;
    this.serverFingerprint = fp;
    this.serverChange = undefined;
    return fp;
  }

  /** A user's keys as the server has them now, checked; fingerprints computed here, not taken from the server. */
  private async fetchPeer(username: string) {
    checkUsername(username, 'username'); // only a valid name is fetched or pinned
    const res = await this.api.getUserKeys(username);
    try {
      const checked = await checkedKeySet(this.provider, res?.encryptionKey, res?.signingKeys);
      const changes = (Array.isArray(res?.changes) ? res.changes : []) as KeyChangeRecord[];
      this.history.set(username, { changes, current: checked.fingerprints });
      return { ...checked, encryptionPem: res?.encryptionKey as string, changes };
    } catch (error) {
      const why = error instanceof KeyCheckError ? error.message : 'they are not public keys';
      throw new ClientError(`the server sent keys for ${escapeControls(username)} that are refused: ${why}`);
    }
  }

  /** A peer's signing keys, their fingerprints pinned on first use; a changed key is refused. */
  async peerKeys(username: string): Promise<Record<SignatureAlgorithm, KeyHandle>> {
    const cached = this.peers.get(username);
    if (cached) return cached;
    const { keys, fingerprints, encryptionPem, changes } = await this.fetchPeer(username);
    const pinned = this.options.pins.pinnedUser(username);
    const name = escapeControls(username);
    if (pinned && !sameFingerprints(pinned, fingerprints)) {
      const kind = await changeKind(this.provider, username, pinned, fingerprints, changes);
      this.changed.set(username, fingerprints);
      this.changeKinds.set(username, kind);
      const what = {
        continuity: `${name} replaced their keys, signed with their old key.`,
        reset: `${name}'s keys were reset by the administrator: compare fingerprints before you trust them.`,
        unexplained: `${name}'s keys CHANGED since you first saw them.`,
      }[kind];
      throw new KeyChangedError(
        `WARNING: ${what} Messages from ${name} are refused until you compare the new fingerprints ` +
          `(${this.hints.compare(name)}) and accept them (${this.hints.trust(name)}).`,
      );
    }
    if (!pinned) {
      // first contact: the keys, and the chain of changes that led to them, taken on trust
      await this.options.pins.addKnownKeySets(username, chainTo(fingerprints, changes));
      await this.options.pins.pinUser(username, fingerprints);
    }
    this.peers.set(username, keys);
    this.peerEncryption.set(username, encryptionPem);
    return keys;
  }

  /** The user's keys changed (`account.keys`; everyone's: events missed): fetched and checked against the pin again. */
  forget(username?: string): void {
    for (const cached of [this.peers, this.peerEncryption, this.history])
      if (username === undefined) cached.clear();
      else cached.delete(username);
  }

  /**
   * The signing keys that were `username`'s when the server received a message at `receivedAt`,
   * if their keys changed after it (protocol.md, `changes[].previous`); undefined when they did not
   * (the current keys apply). The keys a change replaced are used only when this client trusted
   * them as the user's itself: pinned, kept from first contact or an acceptance (`knownKeySets`),
   * or reached from those through continuity signatures. Never on the server's word (`by`), nor on
   * a signature by those same keys. This user's own (`self`) history is checked the same way.
   */
  async keysBefore(
    username: string,
    receivedAt: string,
    self = false,
  ): Promise<Record<SignatureAlgorithm, KeyHandle> | undefined> {
    const { pins } = this.options;
    // a peer's first contact pins their keys and the chain before them, as `peerKeys` does
    if (!self && pins.pinnedUser(username) === undefined) await this.peerKeys(username);
    if (!this.history.has(username)) {
      // one fetch serves both: peerKeys records the history as it fetches (a refusal of its own is
      // said by the caller's peerKeys), so a message costs no second GET of the same keys
      if (!self) await this.peerKeys(username).catch(() => undefined);
      if (!this.history.has(username)) await this.fetchPeer(username);
    }
    const { changes, current } = this.history.get(username) as {
      changes: KeyChangeRecord[];
      current: Fingerprints;
    };
    if (self && pins.knownKeySets(username).length === 0)
      await pins.addKnownKeySets(username, chainTo(current, changes));
    const change = changes.find((c) => typeof c?.at === 'string' && c.at > receivedAt);
    if (!change) return undefined;
    const keys = await previousKeys(this.provider, change);
    const pinned = pins.pinnedUser(username);
    const known = [...pins.knownKeySets(username), ...(pinned ? [pinned] : [])];
    const trusted = keys && (await reachedByContinuity(this.provider, username, known, changes));
    if (!keys || !trusted?.some((set) => sameFingerprints(set, change.previous.fingerprints)))
      throw new KeyChangedError(
        `a message from ${escapeControls(username)} predates a change of their keys, and the keys it replaced cannot be confirmed`,
      );
    return keys;
  }

  /** A peer's encryption key (SPKI PEM) for wrapping a chat key: pinned, and refused when changed, as `peerKeys`. */
  async peerEncryptionKey(username: string): Promise<string> {
    await this.peerKeys(username);
    return this.peerEncryption.get(username) as string;
  }

  /** A user's fingerprints as the server has them now, and as pinned; remembered as shown. */
  async fingerprints(username: string): Promise<{ pinned?: Fingerprints; current: Fingerprints }> {
    const { fingerprints: current } = await this.fetchPeer(username);
    this.shown.set(username, current);
    return { pinned: this.options.pins.pinnedUser(username), current };
  }

  /**
   * Pins a user's keys as the server has them now, but only if they are the ones the user
   * compared: the key-set fingerprint given, or what `fingerprints` showed.
   */
  async trustUser(username: string, given?: string): Promise<Fingerprints> {
    const { fingerprints: current } = await this.fetchPeer(username);
    const name = escapeControls(username);
    const all = await keySetFingerprint(current);
    if (given !== undefined) {
      if (given.toLowerCase() !== all)
        throw new ClientError(
          `${name}'s keys have the fingerprint ${all} now, not the ${escapeControls(given)} you gave; nothing trusted`,
        );
    } else {
      const shown = this.shown.get(username);
      if (!shown)
        throw new ClientError(
          `compare ${name}'s fingerprints first: ${this.hints.compare(name)}, then ${this.hints.trust(name)}`,
        );
      if (!sameFingerprints(shown, current))
        throw new ClientError(
          `${name}'s keys changed again since they were shown; nothing trusted (compare again: ${this.hints.compare(name)})`,
        );
    }
    // the keys pinned until now stay known as the user's: their messages from before still verify
    const before = this.options.pins.pinnedUser(username);
    await this.options.pins.addKnownKeySets(username, before ? [before, current] : [current]);
    await this.options.pins.pinUser(username, current);
    this.changed.delete(username);
    this.changeKinds.delete(username);
    this.peers.delete(username);
    this.peerEncryption.delete(username);
    return current;
  }
}
