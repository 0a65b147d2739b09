import { createPublicKey, type KeyObject, randomUUID } from 'node:crypto';
import path from 'node:path';
import { open, seal } from '../src/crypto/aead.js';
import { fromBase64, toBase64 } from '../src/crypto/base64.js';
import { messageAad, messageSigningInput } from '../src/crypto/canonical.js';
import { type KeyEnvelope, unwrapKey, verifyEnvelope } from '../src/crypto/envelope.js';
import {
  fingerprint,
  type KeyPairSet,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from '../src/crypto/keys.js';
import { readKeyStore } from '../src/crypto/keystore.js';
import { signAsync, verifyAsync } from '../src/crypto/signatures.js';
import { Api } from './api.js';
import { ApiError, CliError } from './errors.js';
import { type Fingerprints, TrustStore } from './trust.js';

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
}

/** Raised when a key changed since it was pinned; `trust` accepts the new one. */
export class KeyChangedError extends CliError {}

/**
 * A logged-in user with their key store: verifies every envelope before unwrapping it and every
 * message before showing it, and pins the server's and peers' keys on first use.
 */
export class Session {
  readonly api: Api;
  serverKey!: KeyObject;
  private readonly chatKeys = new Map<string, Buffer>();
  private readonly epochs = new Map<string, number>();
  private readonly peers = new Map<string, Record<SignatureAlgorithm, KeyObject>>();
  /** Peers whose key changed, with the new fingerprints, waiting for `trust`. */
  readonly changed = new Map<string, Fingerprints>();

  private constructor(
    readonly username: string,
    readonly keys: KeyPairSet,
    readonly trust: TrustStore,
    options: SessionOptions,
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
        `no readable key store for ${options.username} in ${dir} (${(error as { code?: string }).code ?? error}); use --keys DIR`,
      );
    }
    const session = new Session(
      options.username,
      keys,
      await TrustStore.load(options.keysDir, options.username),
      options,
    );
    await session.api.login(options.username, options.password);
    await session.pinServerKey();
    return session;
  }

  get sig(): SignatureAlgorithm {
    return this.trust.state.sig;
  }

  async setSig(sig: SignatureAlgorithm): Promise<void> {
    this.trust.state.sig = sig;
    await this.trust.saveState();
  }

  private async pinServerKey(accept = false): Promise<void> {
    const res = await this.api.call<{ publicKey: string }>('GET', '/server/key');
    const key = createPublicKey(res.publicKey);
    const fp = fingerprint(key);
    const verdict = this.trust.checkServer(this.api.server, fp);
    if (verdict === 'changed' && !accept) {
      throw new KeyChangedError(
        `WARNING: the server's signing key CHANGED (now ${fp}). Someone may be impersonating it. ` +
          'If the operator confirms the new key, run `securechat trust server`.',
      );
    }
    if (verdict !== 'same') await this.trust.pinServer(this.api.server, fp);
    this.serverKey = key;
  }

  async trustServer(): Promise<string> {
    await this.pinServerKey(true);
    return fingerprint(this.serverKey);
  }

  /** Verify the server's signature, then unwrap; remember the envelope (it is useless to others). */
  async accept(envelope: KeyEnvelope): Promise<Buffer> {
    if (envelope.recipient !== this.username)
      throw new CliError(`an envelope for ${envelope.recipient} was sent to ${this.username}`);
    if (!(await verifyEnvelope(this.serverKey, envelope))) {
      throw new CliError(
        `WARNING: the key envelope for chat ${envelope.chatId} epoch ${envelope.epoch} has a bad server signature; refused`,
      );
    }
    const key = unwrapKey(this.keys.encryption.privateKey, envelope.wrappedKey);
    const id = `${envelope.chatId}/${envelope.epoch}`;
    this.chatKeys.set(id, key);
    if ((this.epochs.get(envelope.chatId) ?? 0) < envelope.epoch)
      this.epochs.set(envelope.chatId, envelope.epoch);
    if (!this.trust.state.envelopes[id]) {
      this.trust.state.envelopes[id] = envelope;
      await this.trust.saveState();
    }
    return key;
  }

  /** The key of one epoch: in memory, from a remembered envelope, or (the current one) from the server. */
  async chatKey(chatId: string, epoch: number): Promise<Buffer | undefined> {
    const id = `${chatId}/${epoch}`;
    const cached = this.chatKeys.get(id);
    if (cached) return cached;
    const kept = this.trust.state.envelopes[id];
    if (kept) return this.accept(kept);
    const current = await this.currentKey(chatId);
    return current.epoch === epoch ? current.key : undefined;
  }

  async currentKey(chatId: string): Promise<{ epoch: number; key: Buffer }> {
    const envelope = await this.api.call<KeyEnvelope>('GET', `/chats/${encodeURIComponent(chatId)}/key`);
    return { epoch: envelope.epoch, key: await this.accept(envelope) };
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

  /** Encrypts, signs and posts; a STALE_EPOCH answer is re-encrypted under the new key and sent once more. */
  async send(
    chatId: string,
    text: string,
    alg: SignatureAlgorithm = this.sig,
  ): Promise<{ seq: number; epoch: number }> {
    let epoch = this.epochs.get(chatId);
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
      const current = await this.currentKey(chatId);
      return { ...(await post(current.epoch, current.key)), epoch: current.epoch };
    }
  }

  /** A peer's signing keys, their fingerprints pinned on first use; a changed key is refused. */
  async peerKeys(username: string): Promise<Record<SignatureAlgorithm, KeyObject>> {
    const cached = this.peers.get(username);
    if (cached) return cached;
    const res = await this.api.call<{
      signingKeys: Record<SignatureAlgorithm, string>;
      encryptionKey: string;
    }>('GET', `/users/${encodeURIComponent(username)}/keys`);
    const keys = Object.fromEntries(
      SIGNATURE_ALGORITHMS.map((a) => [a, createPublicKey(res.signingKeys[a])]),
    ) as Record<SignatureAlgorithm, KeyObject>;
    // Fingerprints are computed here from the keys themselves, not taken from the server's word.
    const fingerprints = {
      encryption: fingerprint(res.encryptionKey),
      ...Object.fromEntries(SIGNATURE_ALGORITHMS.map((a) => [a, fingerprint(keys[a])])),
    } as Fingerprints;
    const verdict = this.trust.checkUser(username, fingerprints);
    if (verdict === 'changed') {
      this.changed.set(username, fingerprints);
      throw new KeyChangedError(
        `WARNING: ${username}'s keys CHANGED since you first saw them. Messages from ${username} are refused ` +
          `until you check the new fingerprints (\`fingerprint ${username}\`) and run \`trust ${username}\`.`,
      );
    }
    if (verdict === 'new') await this.trust.pinUser(username, fingerprints);
    this.peers.set(username, keys);
    return keys;
  }

  async fingerprints(username: string): Promise<{ pinned?: Fingerprints; current: Fingerprints }> {
    const res = await this.api.call<{
      fingerprints: Fingerprints;
      encryptionKey: string;
      signingKeys: Record<SignatureAlgorithm, string>;
    }>('GET', `/users/${encodeURIComponent(username)}/keys`);
    const current = {
      encryption: fingerprint(res.encryptionKey),
      ...Object.fromEntries(SIGNATURE_ALGORITHMS.map((a) => [a, fingerprint(res.signingKeys[a])])),
    } as Fingerprints;
    return { pinned: this.trust.pinnedUser(username), current };
  }

  async trustUser(username: string): Promise<void> {
    const { current } = await this.fingerprints(username);
    await this.trust.pinUser(username, current);
    this.changed.delete(username);
    this.peers.delete(username);
  }

  /** Verifies the sender's signature (against keys we fetched and pinned), then decrypts. */
  async read(data: MessageData): Promise<string> {
    const m = data.message;
    if (!SIGNATURE_ALGORITHMS.includes(m.signatureAlgorithm))
      throw new CliError(`unknown signature scheme ${m.signatureAlgorithm}`);
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
        `the ${m.signatureAlgorithm} signature does not verify against ${data.sender}'s key`,
      );
    const key = await this.chatKey(data.chatId, m.epoch).catch(() => undefined);
    if (!key) throw new CliError(`no key for epoch ${m.epoch} of this chat (it predates you)`);
    try {
      return open(key, m, messageAad(header)).toString('utf8');
    } catch {
      throw new CliError('the ciphertext does not decrypt under the chat key (tampered)');
    }
  }

  async close(): Promise<void> {
    try {
      await this.api.logout();
    } catch {
      // the token may already be gone (server restarted with a new secret, or expired)
    }
    await this.api.close();
  }
}
