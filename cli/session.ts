import { createPublicKey, type KeyObject, randomUUID } from 'node:crypto';
import path from 'node:path';
import { open, seal } from '../src/crypto/aead.js';
import { fromBase64, toBase64 } from '../src/crypto/base64.js';
import { messageAad, messageSigningInput } from '../src/crypto/canonical.js';
import { type KeyEnvelope, unwrapKey, verifyEnvelope } from '../src/crypto/envelope.js';
import {
  checkPublicKey,
  fingerprint,
  KeyCheckError,
  type KeyPairSet,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from '../src/crypto/keys.js';
import { readKeyStore } from '../src/crypto/keystore.js';
import { signAsync, verifyAsync } from '../src/crypto/signatures.js';
import { Api } from './api.js';
import { ApiError, CliError } from './errors.js';
import { escapeControls, shortId } from './format.js';
import { type Fingerprints, keySetFingerprint, sameFingerprints, TrustStore } from './trust.js';
import { checkEnvelope, checkMessage, username as checkUsername } from './validate.js';

export interface MessageData {
  chatId: string;
  seq: number;
  sender: string;
  receivedAt: string;
  message: {
    id: string;
    epoch: number;
    sentAt: string;
    iv: string;
    ciphertext: string;
    tag: string;
    signatureAlgorithm: SignatureAlgorithm;
    signature: string;
  };
}

export interface SessionOptions {
  server: string;
  username: string;
  password: string;
  keysDir: string;
  signal?: AbortSignal;
  ca?: string;
  /**
   * For `fingerprint` and `trust --server`: a changed server key is recorded in `serverChange`
   * instead of refused, so that the user can compare and accept it. Nothing is unwrapped meanwhile.
   */
  inspectServerKey?: boolean;
}

/** Raised when a key changed since it was pinned; `trust` accepts the new one. */
export class KeyChangedError extends CliError {}

/** A key envelope the client will not use: the reason is one line, shown as a warning. */
export class EnvelopeRefused extends CliError {
  constructor(reason: string) {
    super(`WARNING: key envelope refused: ${reason}`);
  }
}

/** What the caller asked for when an envelope arrives. */
export interface EnvelopeExpectation {
  /** The chat asked for (or named by the event or answer that carried the envelope). */
  chatId: string;
  /** The epoch the answer that carried it named (a chat object's epoch, `?epoch=`): it must agree. */
  epoch?: number;
  /**
   * The epoch an earlier answer named (STALE_EPOCH): the envelope fetched after it may be newer
   * (the key rotated again meanwhile), never older.
   */
  atLeast?: number;
  /** An explicitly asked-for past epoch (to read history): lower than the highest seen is fine. */
  past?: boolean;
}

/**
 * A logged-in user with their key store: verifies every envelope before unwrapping it and every
 * message before showing it, and pins the server's and peers' keys on first use.
 */
export class Session {
  readonly api: Api;
  serverKey?: KeyObject;
  /** Set (with `inspectServerKey`) when the server's key is not the pinned one. */
  serverChange?: { pinned: string; current: string };
  private readonly chatKeys = new Map<string, Buffer>();
  private readonly peers = new Map<string, Record<SignatureAlgorithm, KeyObject>>();
  /** Peers whose key changed, with the new fingerprints, waiting for `trust`. */
  readonly changed = new Map<string, Fingerprints>();
  /** Fingerprints shown to the user in this session (`fingerprint`): what a bare `trust` pins. */
  private readonly shown = new Map<string, Fingerprints>();
  private shownServer?: string;

  private constructor(
    readonly username: string,
    readonly keys: KeyPairSet,
    readonly trust: TrustStore,
    private readonly options: SessionOptions,
  ) {
    this.api = new Api({ server: options.server, signal: options.signal, ca: options.ca });
  }

  static async open(options: SessionOptions): Promise<Session> {
    const dir = path.join(options.keysDir, 'users', options.username);
    let keys: KeyPairSet;
    try {
      keys = await readKeyStore(dir);
    } catch (error) {
      throw new CliError(
        `no readable key store for ${options.username} in ${dir} (${(error as { code?: string }).code ?? error}); ` +
          'pass --keys DIR (or set SECURECHAT_KEYS_DIR) to the folder that holds users/<name>/',
      );
    }
    const session = new Session(
      options.username,
      keys,
      await TrustStore.load(options.keysDir, options.username),
      options,
    );
    await session.api.login(options.username, options.password);
    try {
      await session.pinServerKey();
    } catch (error) {
      // Logged in, then refused: log out at once rather than stay online for the grace period.
      await session.close();
      throw error;
    }
    return session;
  }

  get sig(): SignatureAlgorithm {
    return this.trust.state.sig;
  }

  async setSig(sig: SignatureAlgorithm): Promise<void> {
    this.trust.state.sig = sig;
    await this.trust.saveState();
  }

  private async fetchServerKey(): Promise<{ key: KeyObject; fp: string }> {
    const res = await this.api.call<{ publicKey: string }>('GET', '/server/key');
    let key: KeyObject;
    try {
      key = createPublicKey(res.publicKey);
    } catch {
      throw new CliError('the server sent a signing key that is not a public key');
    }
    return { key, fp: fingerprint(key) };
  }

  private async pinServerKey(): Promise<void> {
    const { key, fp } = await this.fetchServerKey();
    const verdict = this.trust.checkServer(this.api.server, fp);
    if (verdict === 'changed') {
      const pinned = this.trust.pinnedServer(this.api.server) ?? '';
      if (this.options.inspectServerKey) {
        this.serverChange = { pinned, current: fp };
        return;
      }
      throw new KeyChangedError(
        `WARNING: the server's signing key CHANGED (pinned ${pinned}, now ${fp}). Someone may be impersonating it. ` +
          'If the operator confirms the new fingerprint, run `securechat trust --server FINGERPRINT`.',
      );
    }
    // Review A11: `fingerprint` and `trust --server` never pin on first use; only a matching
    // fingerprint given to `trust --server` is pinned (trustServer).
    if (verdict === 'new' && !this.options.inspectServerKey) await this.trust.pinServer(this.api.server, fp);
    this.serverKey = key;
  }

  /** The fingerprint shown by `fingerprint`, remembered so that a bare `trust --server` pins exactly it. */
  showServer(): { pinned?: string; current?: string } {
    const current = this.serverChange?.current ?? (this.serverKey && fingerprint(this.serverKey));
    this.shownServer = current;
    return { pinned: this.trust.pinnedServer(this.api.server), current };
  }

  /**
   * Pins the server key the server has now, but only if it is the one the user compared: the
   * fingerprint given, or (in the menu) the one `fingerprint` showed.
   */
  async trustServer(given?: string): Promise<string> {
    const { key, fp } = await this.fetchServerKey();
    const expected = given?.toLowerCase() ?? this.shownServer;
    if (expected === undefined) {
      const pinned = this.trust.pinnedServer(this.api.server);
      throw new CliError(
        `the server key is ${fp}${pinned && pinned !== fp ? ` (pinned: ${pinned})` : ''}; ` +
          'if the operator confirms it, run `trust --server FINGERPRINT` with that fingerprint',
      );
    }
    if (expected !== fp)
      throw new CliError(`the server's key is ${fp}, not the ${expected} you compared; nothing trusted`);
    await this.trust.pinServer(this.api.server, fp);
    this.serverKey = key;
    this.serverChange = undefined;
    return fp;
  }

  private requireServerKey(): KeyObject {
    if (!this.serverKey) throw new CliError("the server's key is not trusted: see `securechat fingerprint`");
    return this.serverKey;
  }

  /**
   * Verify the server's signature, that the envelope is this user's, for the chat asked for, and
   * not older than an epoch already seen; then unwrap, and remember it (it is useless to others).
   */
  async accept(envelope: KeyEnvelope, expected: EnvelopeExpectation): Promise<Buffer> {
    const e = envelope ?? ({} as Partial<KeyEnvelope>);
    const chat = shortId(expected.chatId);
    if (typeof e !== 'object') throw new EnvelopeRefused(`no envelope for chat ${chat}`);
    // Review A1/A3: the shape first (cli/validate.ts), so no field of a wrong type is used below.
    try {
      checkEnvelope(envelope);
    } catch (error) {
      throw new EnvelopeRefused(`chat ${chat}: ${escapeControls((error as Error).message)}`);
    }
    if (e.chatId !== expected.chatId)
      throw new EnvelopeRefused(`it is for chat ${shortId(String(e.chatId))}, not chat ${chat}`);
    if (!Number.isSafeInteger(e.epoch) || e.epoch < 1)
      throw new EnvelopeRefused(`chat ${chat}: epoch ${escapeControls(String(e.epoch))} is not an epoch`);
    // Review A3: the epochs an answer named are server data too: escaped when shown.
    if (expected.epoch !== undefined && e.epoch !== expected.epoch)
      throw new EnvelopeRefused(
        `chat ${chat}: the answer names epoch ${escapeControls(String(expected.epoch))}, the envelope ${e.epoch}`,
      );
    if (expected.atLeast !== undefined && e.epoch < expected.atLeast)
      throw new EnvelopeRefused(
        `chat ${chat}: the server named epoch ${escapeControls(String(expected.atLeast))}, the envelope is of epoch ${e.epoch}`,
      );
    const highest = this.trust.state.epochs.get(expected.chatId) ?? 0;
    if (!expected.past && e.epoch < highest)
      throw new EnvelopeRefused(
        `chat ${chat}: epoch ${e.epoch} is older than epoch ${highest}, already seen (a replayed key?)`,
      );
    if (e.recipient !== this.username)
      throw new EnvelopeRefused(`chat ${chat}: it is for ${escapeControls(String(e.recipient))}, not you`);
    if (!(await verifyEnvelope(this.requireServerKey(), envelope)))
      throw new EnvelopeRefused(`chat ${chat} epoch ${e.epoch}: the server signature does not verify`);
    let key: Buffer;
    try {
      key = unwrapKey(this.keys.encryption.privateKey, envelope.wrappedKey);
    } catch {
      throw new EnvelopeRefused(`chat ${chat} epoch ${e.epoch}: it does not unwrap with your key`);
    }
    // Review A9: another accept may have raised the highest epoch while this one awaited: check
    // again now, and only ever raise it.
    const now = this.trust.state.epochs.get(expected.chatId) ?? 0;
    if (!expected.past && e.epoch < now)
      throw new EnvelopeRefused(
        `chat ${chat}: epoch ${e.epoch} is older than epoch ${now}, already seen (a replayed key?)`,
      );
    const id = `${envelope.chatId}/${envelope.epoch}`;
    this.chatKeys.set(id, key);
    let changed = false;
    if (now < envelope.epoch) {
      this.trust.state.epochs.set(envelope.chatId, envelope.epoch);
      changed = true;
    }
    if (!this.trust.state.envelopes.has(id)) {
      this.trust.state.envelopes.set(id, envelope);
      changed = true;
    }
    if (changed) await this.trust.saveState();
    return key;
  }

  /** The key of one epoch: in memory, from a remembered envelope, or asked of the server for that epoch. */
  async chatKey(chatId: string, epoch: number): Promise<Buffer | undefined> {
    const id = `${chatId}/${epoch}`;
    const cached = this.chatKeys.get(id);
    if (cached) return cached;
    const kept = this.trust.state.envelopes.get(id);
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
  async currentKey(chatId: string, named?: number): Promise<{ epoch: number; key: Buffer }> {
    const envelope = await this.api.call<KeyEnvelope>('GET', `/chats/${encodeURIComponent(chatId)}/key`);
    return { epoch: envelope?.epoch, key: await this.accept(envelope, { chatId, atLeast: named }) };
  }

  private async compose(chatId: string, epoch: number, key: Buffer, text: string, alg: SignatureAlgorithm) {
    const header = {
      chatId,
      epoch,
      sender: this.username,
      id: randomUUID(),
      sentAt: new Date().toISOString(),
    };
    const parts = seal(key, Buffer.from(text, 'utf8'), messageAad(header));
    const signature = await signAsync(
      alg,
      this.keys.signing[alg].privateKey,
      messageSigningInput(header, parts),
    );
    return {
      id: header.id,
      epoch,
      sentAt: header.sentAt,
      ...parts,
      signatureAlgorithm: alg,
      signature: toBase64(signature),
    };
  }

  /**
   * Encrypts, signs and posts under the highest epoch seen; a STALE_EPOCH answer is re-encrypted
   * under the new key and sent once more, if that key is newer and is the epoch the answer named.
   */
  async send(
    chatId: string,
    text: string,
    alg: SignatureAlgorithm = this.sig,
  ): Promise<{ seq: number; epoch: number }> {
    let epoch = this.trust.state.epochs.get(chatId);
    let key = epoch === undefined ? undefined : await this.chatKey(chatId, epoch);
    if (epoch === undefined || !key) ({ epoch, key } = await this.currentKey(chatId));
    const post = async (e: number, k: Buffer) => {
      const body = await this.compose(chatId, e, k, text, alg);
      return this.api.call<{ seq: number }>('POST', `/chats/${encodeURIComponent(chatId)}/messages`, body);
    };
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

  private async fetchPeer(username: string) {
    checkUsername(username, 'username'); // review A1/A2: only a valid name is fetched or pinned
    const res = await this.api.call<{
      signingKeys: Record<SignatureAlgorithm, string>;
      encryptionKey: string;
    }>('GET', `/users/${encodeURIComponent(username)}/keys`);
    let keys: Record<SignatureAlgorithm, KeyObject>;
    let fingerprints: Fingerprints;
    try {
      // The checks registration makes: a key the server should have refused is refused here too.
      keys = Object.fromEntries(
        SIGNATURE_ALGORITHMS.map((a) => [a, checkPublicKey(res.signingKeys?.[a], a)]),
      ) as Record<SignatureAlgorithm, KeyObject>;
      // Fingerprints are computed here from the keys themselves, not taken from the server's word.
      fingerprints = {
        encryption: fingerprint(checkPublicKey(res.encryptionKey, 'encryption')),
        ...Object.fromEntries(SIGNATURE_ALGORITHMS.map((a) => [a, fingerprint(keys[a])])),
      } as Fingerprints;
    } catch (error) {
      const why = error instanceof KeyCheckError ? error.message : 'they are not public keys';
      throw new CliError(`the server sent keys for ${escapeControls(username)} that are refused: ${why}`);
    }
    return { keys, fingerprints };
  }

  /** A peer's signing keys, their fingerprints pinned on first use; a changed key is refused. */
  async peerKeys(username: string): Promise<Record<SignatureAlgorithm, KeyObject>> {
    const cached = this.peers.get(username);
    if (cached) return cached;
    const { keys, fingerprints } = await this.fetchPeer(username);
    const verdict = this.trust.checkUser(username, fingerprints);
    const name = escapeControls(username);
    if (verdict === 'changed') {
      this.changed.set(username, fingerprints);
      throw new KeyChangedError(
        `WARNING: ${name}'s keys CHANGED since you first saw them. Messages from ${name} are refused ` +
          `until you compare the new fingerprints (\`fingerprint ${name}\`) and accept them (\`trust ${name} FINGERPRINT\`).`,
      );
    }
    if (verdict === 'new') await this.trust.pinUser(username, fingerprints);
    this.peers.set(username, keys);
    return keys;
  }

  /** A user's fingerprints as the server has them now, and as pinned; remembered as shown. */
  async fingerprints(username: string): Promise<{ pinned?: Fingerprints; current: Fingerprints }> {
    const { fingerprints: current } = await this.fetchPeer(username);
    this.shown.set(username, current);
    return { pinned: this.trust.pinnedUser(username), current };
  }

  /**
   * Pins a user's keys as the server has them now, but only if they are the ones the user
   * compared: the key-set fingerprint given, or (in the menu) what `fingerprint` showed.
   */
  async trustUser(username: string, given?: string): Promise<Fingerprints> {
    const { fingerprints: current } = await this.fetchPeer(username);
    const name = escapeControls(username);
    const all = keySetFingerprint(current);
    if (given !== undefined) {
      if (given.toLowerCase() !== all)
        throw new CliError(
          `${name}'s keys have the fingerprint ${all} now, not the ${escapeControls(given)} you gave; nothing trusted`,
        );
    } else {
      const shown = this.shown.get(username);
      if (!shown)
        throw new CliError(
          `compare ${name}'s fingerprints first: \`fingerprint ${name}\`, then \`trust ${name} FINGERPRINT\``,
        );
      if (!sameFingerprints(shown, current))
        throw new CliError(
          `${name}'s keys changed again since they were shown; nothing trusted (run \`fingerprint ${name}\` again)`,
        );
    }
    await this.trust.pinUser(username, current);
    this.changed.delete(username);
    this.peers.delete(username);
    return current;
  }

  /**
   * Verifies that the message is of the chat being shown and the sender's signature (against keys
   * we fetched and pinned), then decrypts.
   */
  async read(data: MessageData, chatId: string): Promise<string> {
    checkMessage(data); // review A1: the shape first (cli/validate.ts); a malformed one is refused
    if (data.chatId !== chatId)
      throw new CliError(
        `it belongs to chat ${shortId(String(data.chatId))}, not to chat ${shortId(chatId)}`,
      );
    const m = data.message;
    if (!SIGNATURE_ALGORITHMS.includes(m.signatureAlgorithm))
      throw new CliError(`unknown signature scheme ${escapeControls(String(m.signatureAlgorithm))}`);
    const header = { chatId: data.chatId, epoch: m.epoch, sender: data.sender, id: m.id, sentAt: m.sentAt };
    const keys = await this.peerKeys(data.sender);
    const signature = fromBase64(m.signature);
    const valid =
      signature &&
      (await verifyAsync(
        m.signatureAlgorithm,
        keys[m.signatureAlgorithm],
        messageSigningInput(header, m),
        signature,
      ));
    if (!valid)
      throw new CliError(
        `the ${m.signatureAlgorithm} signature does not verify against ${escapeControls(data.sender)}'s key`,
      );
    // A refused envelope is the reason shown; a key that does not exist for us is "predates you".
    const key = Number.isSafeInteger(m.epoch) ? await this.chatKey(data.chatId, m.epoch) : undefined;
    if (!key)
      throw new CliError(
        `no key for epoch ${escapeControls(String(m.epoch))} of this chat (it predates you)`,
      );
    try {
      return open(key, m, messageAad(header)).toString('utf8');
    } catch {
      throw new CliError('the ciphertext does not decrypt under the chat key (tampered)');
    }
  }

  private closing?: Promise<void>;

  /** Logs out and closes, once, whichever exit path (quit, signal, broken pipe, error) calls it. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    try {
      await this.api.logout();
    } catch {
      // the token may already be gone (server restarted with a new secret, or expired)
    }
    await this.api.close();
  }
}
