import type { Api } from './api.js';
import {
  type EnvelopeExpectation,
  importChatKey,
  importEncryptionKey,
  importServerKey,
  type KeyEnvelope,
  openEnvelope,
} from './envelope.js';
import {
  ApiError,
  ClientError,
  EnvelopeRefused,
  KeyChangedError,
  KeyCheckError,
  MessageRefused,
} from './errors.js';
import {
  checkPublicKey,
  type Fingerprints,
  fingerprint,
  keySetFingerprint,
  type PemKeyPairSet,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  sameFingerprints,
} from './keys.js';
import {
  composeMessage,
  type MessageBody,
  type MessageData,
  messageScheme,
  openMessage,
  verifyMessageSignature,
} from './message.js';
import { importPrivatePem, type KeyHandle, type SignatureProvider } from './signatures.js';
import type { EpochStore, PinStore } from './stores.js';
import { escapeControls, shortId } from './text.js';

/** A user's own keys, imported: the private ones non-extractable, the public ones as PEM. */
export interface UserKeys {
  encryption: CryptoKey;
  signing: Record<SignatureAlgorithm, KeyHandle>;
  publicKeys: { encryption: string; signing: Record<SignatureAlgorithm, string> };
}

export async function importUserKeys(pems: PemKeyPairSet, provider: SignatureProvider): Promise<UserKeys> {
  const signing = {} as Record<SignatureAlgorithm, KeyHandle>;
  for (const alg of SIGNATURE_ALGORITHMS)
    signing[alg] = await importPrivatePem(provider, alg, pems.signing[alg].privateKey);
  return {
    encryption: await importEncryptionKey(pems.encryption.privateKey),
    signing,
    publicKeys: {
      encryption: pems.encryption.publicKey,
      signing: Object.fromEntries(SIGNATURE_ALGORITHMS.map((a) => [a, pems.signing[a].publicKey])) as Record<
        SignatureAlgorithm,
        string
      >,
    },
  };
}

/** A user's four public keys (SPKI PEM), checked as registration checks them, with their fingerprints. */
export async function checkedKeySet(
  provider: SignatureProvider,
  encryptionKey: unknown,
  signingKeys: Partial<Record<SignatureAlgorithm, unknown>> | undefined,
): Promise<{ keys: Record<SignatureAlgorithm, KeyHandle>; fingerprints: Fingerprints }> {
  const fingerprints = {
    encryption: await fingerprint(checkPublicKey(encryptionKey, 'encryption')),
  } as Fingerprints;
  const keys = {} as Record<SignatureAlgorithm, KeyHandle>;
  for (const alg of SIGNATURE_ALGORITHMS) {
    const der = checkPublicKey(signingKeys?.[alg], alg);
    fingerprints[alg] = await fingerprint(der);
    try {
      keys[alg] = await provider.importPublic(alg, der);
    } catch {
      throw new KeyCheckError(`${alg} key is not a PEM public key`);
    }
  }
  return { keys, fingerprints };
}

export interface ClientOptions {
  api: Api;
  username: string;
  keys: UserKeys;
  provider: SignatureProvider;
  pins: PinStore;
  epochs: EpochStore;
  /**
   * A changed server key is recorded in `serverChange` instead of refused, so that the user can
   * compare and accept it. Nothing is unwrapped meanwhile.
   */
  inspectServerKey?: boolean;
  /** How this client's user does what a refusal asks (the CLI names its commands). */
  hints?: TrustHints;
}

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

/**
 * A logged-in user with their keys: verifies every envelope before unwrapping it and every
 * message before showing it, and pins the server's and peers' keys on first use
 * (protocol.md, "What every client checks itself").
 */
export class Client {
  readonly api: Api;
  readonly username: string;
  readonly keys: UserKeys;
  readonly provider: SignatureProvider;
  serverKey?: CryptoKey;
  serverFingerprint?: string;
  /** Set (with `inspectServerKey`) when the server's key is not the pinned one. */
  serverChange?: { pinned: string; current: string };
  /** Peers whose key changed, with the new fingerprints, waiting for `trustUser`. */
  readonly changed = new Map<string, Fingerprints>();
  private readonly chatKeys = new Map<string, CryptoKey>();
  private readonly peers = new Map<string, Record<SignatureAlgorithm, KeyHandle>>();
  /** Fingerprints shown to the user in this session: what a bare `trustUser` pins. */
  private readonly shown = new Map<string, Fingerprints>();
  private shownServer?: string;
  private readonly hints: TrustHints;

  constructor(private readonly options: ClientOptions) {
    this.hints = options.hints ?? PLAIN_HINTS;
    this.api = options.api;
    this.username = options.username;
    this.keys = options.keys;
    this.provider = options.provider;
  }

  /** Logs in and pins the server key; refused (and logged out at once) when it changed. */
  static async login(options: ClientOptions & { password: string }): Promise<Client> {
    const client = new Client(options);
    await client.start(options.password);
    return client;
  }

  /** Logs in, then pins the server key; logs out at once when that is refused. */
  async start(password: string): Promise<void> {
    await this.api.login(this.username, password);
    try {
      await this.pinServerKey();
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  private async fetchServerKey(): Promise<{ key: CryptoKey; fp: string }> {
    const res = await this.api.call<{ publicKey: string }>('GET', '/server/key');
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
    if (pinned === undefined) await this.options.pins.pinServer(this.api.server, fp);
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

  /** The user's own fingerprints, to compare out of band. */
  async ownFingerprints(): Promise<Fingerprints> {
    const pub = this.keys.publicKeys;
    return (await checkedKeySet(this.provider, pub.encryption, pub.signing)).fingerprints;
  }

  /**
   * Verifies the server's signature, that the envelope is this user's, for the chat asked for, and
   * not older than an epoch already seen; then unwraps, and records it.
   */
  async accept(envelope: KeyEnvelope, expected: EnvelopeExpectation): Promise<CryptoKey> {
    if (!this.serverKey) throw new ClientError(`the server's key is not trusted: ${this.hints.showServer}`);
    const bytes = await openEnvelope(envelope, expected, {
      highest: this.options.epochs.highestEpoch(expected.chatId) ?? 0,
      username: this.username,
      serverKey: this.serverKey,
      encryptionKey: this.keys.encryption,
    });
    const key = await importChatKey(bytes);
    bytes.fill(0);
    this.chatKeys.set(`${envelope.chatId}/${envelope.epoch}`, key);
    await this.options.epochs.record(envelope);
    return key;
  }

  /** The key of one epoch: in memory, from a recorded envelope, or asked of the server for that epoch. */
  async chatKey(chatId: string, epoch: number): Promise<CryptoKey | undefined> {
    const cached = this.chatKeys.get(`${chatId}/${epoch}`);
    if (cached) return cached;
    const kept = this.options.epochs.envelope(chatId, epoch);
    if (kept) return this.accept(kept, { chatId, epoch, past: true });
    let envelope: KeyEnvelope;
    try {
      envelope = await this.api.call<KeyEnvelope>(
        'GET',
        `/chats/${encodeURIComponent(chatId)}/key?epoch=${epoch}`,
      );
    } catch (error) {
      if (error instanceof ApiError && error.code === 'KEY_NOT_FOUND') return undefined;
      throw error;
    }
    // A server without `?epoch=` answers with the current epoch: there is no key of this one for us.
    if (envelope?.chatId === chatId && envelope.epoch !== epoch) return undefined;
    return this.accept(envelope, { chatId, epoch, past: true });
  }

  /** The chat's current key; `named` is the epoch an answer (STALE_EPOCH) said is current. */
  async currentKey(chatId: string, named?: number): Promise<{ epoch: number; key: CryptoKey }> {
    const envelope = await this.api.call<KeyEnvelope>('GET', `/chats/${encodeURIComponent(chatId)}/key`);
    return { epoch: envelope?.epoch, key: await this.accept(envelope, { chatId, atLeast: named }) };
  }

  /** A sealed, signed message body of this user. */
  compose(
    chatId: string,
    epoch: number,
    key: CryptoKey,
    text: string,
    alg: SignatureAlgorithm,
  ): Promise<MessageBody> {
    return composeMessage(this.provider, {
      chatId,
      epoch,
      sender: this.username,
      key,
      text,
      alg,
      signingKey: this.keys.signing[alg],
    });
  }

  /**
   * Encrypts, signs and posts under the highest epoch seen; a STALE_EPOCH answer is re-encrypted
   * under the new key and sent once more, if that key is newer and is the epoch the answer named.
   */
  async send(chatId: string, text: string, alg: SignatureAlgorithm): Promise<{ seq: number; epoch: number }> {
    let epoch = this.options.epochs.highestEpoch(chatId);
    let key = epoch === undefined ? undefined : await this.chatKey(chatId, epoch);
    if (epoch === undefined || !key) ({ epoch, key } = await this.currentKey(chatId));
    const post = async (e: number, k: CryptoKey) =>
      this.api.call<{ seq: number }>(
        'POST',
        `/chats/${encodeURIComponent(chatId)}/messages`,
        await this.compose(chatId, e, k, text, alg),
      );
    try {
      return { ...(await post(epoch, key)), epoch };
    } catch (error) {
      if (!(error instanceof ApiError) || error.code !== 'STALE_EPOCH') throw error;
      const named = /\bepoch (\d+)\b/.exec(error.detail);
      const current = await this.currentKey(chatId, named ? Number(named[1]) : undefined);
      if (current.epoch <= epoch)
        throw new EnvelopeRefused(
          `chat ${shortId(chatId)}: the server called epoch ${epoch} stale but offers epoch ${current.epoch}`,
        );
      return { ...(await post(current.epoch, current.key)), epoch: current.epoch };
    }
  }

  /** A user's keys as the server has them now, checked; fingerprints computed here, not taken from the server. */
  private async fetchPeer(username: string) {
    const res = await this.api.call<{
      signingKeys?: Record<SignatureAlgorithm, string>;
      encryptionKey?: string;
    }>('GET', `/users/${encodeURIComponent(username)}/keys`);
    try {
      return await checkedKeySet(this.provider, res?.encryptionKey, res?.signingKeys);
    } catch (error) {
      const why = error instanceof KeyCheckError ? error.message : 'they are not public keys';
      throw new ClientError(`the server sent keys for ${escapeControls(username)} that are refused: ${why}`);
    }
  }

  /** A peer's signing keys, their fingerprints pinned on first use; a changed key is refused. */
  async peerKeys(username: string): Promise<Record<SignatureAlgorithm, KeyHandle>> {
    const cached = this.peers.get(username);
    if (cached) return cached;
    const { keys, fingerprints } = await this.fetchPeer(username);
    const pinned = this.options.pins.pinnedUser(username);
    const name = escapeControls(username);
    if (pinned && !sameFingerprints(pinned, fingerprints)) {
      this.changed.set(username, fingerprints);
      throw new KeyChangedError(
        `WARNING: ${name}'s keys CHANGED since you first saw them. Messages from ${name} are refused ` +
          `until you compare the new fingerprints (${this.hints.compare(name)}) and accept them (${this.hints.trust(name)}).`,
      );
    }
    if (!pinned) await this.options.pins.pinUser(username, fingerprints);
    this.peers.set(username, keys);
    return keys;
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
    await this.options.pins.pinUser(username, current);
    this.changed.delete(username);
    this.peers.delete(username);
    return current;
  }

  /**
   * Verifies that the message is of the chat being shown and the sender's signature (against keys
   * fetched and pinned), then decrypts. Showing each (chatId, id) once is the caller's view's job.
   */
  async read(data: MessageData, chatId: string): Promise<string> {
    const alg = messageScheme(data, chatId);
    const keys = await this.peerKeys(data.sender);
    if (!(await verifyMessageSignature(this.provider, keys[alg], data)))
      throw new MessageRefused(
        `the ${alg} signature does not verify against ${escapeControls(data.sender)}'s key`,
      );
    const epoch = data.message.epoch;
    // A refused envelope is the reason shown; a key that does not exist for us is "predates you".
    const key = Number.isSafeInteger(epoch) ? await this.chatKey(data.chatId, epoch) : undefined;
    if (!key)
      throw new MessageRefused(
        `no key for epoch ${escapeControls(String(epoch))} of this chat (it predates you)`,
      );
    return openMessage(key, data);
  }

  async close(): Promise<void> {
    try {
      await this.api.logout();
    } catch {
      // the token may already be gone (server restarted with a new secret, or expired)
    }
  }
}
