import type { Api } from './api.js';
import type { Bytes } from './bytes.js';
import type { Chat } from './chats.js';
import {
  checkEnvelopeFields,
  checkNotOlder,
  type EnvelopeExpectation,
  importChatKey,
  openEnvelope,
} from './envelope.js';
import { ApiError, ClientError, EnvelopeRefused } from './errors.js';
import { decryptionKeys, unwrapWithAny } from './former-keys.js';
import type { SignatureAlgorithm } from './keys.js';
import {
  checkCommitter,
  checkMemberEnvelope,
  isMemberEnvelope,
  type AnyKeyEnvelope as KeyEnvelope,
  type MemberChange,
  type MemberKeyEnvelope,
  sameMemberEnvelope,
  verifyMemberSignature,
} from './members.js';
import { importPublicPem, type KeyHandle } from './signatures.js';
import type { EpochStore } from './stores.js';
import { escapeControls, shortId } from './text.js';
import type { KeyTrust } from './trust.js';
import type { UserKeys } from './user-keys.js';

export interface ChatKeysOptions {
  api: Api;
  /** The server's and peers' keys, pinned: what envelopes are verified under. */
  trust: KeyTrust;
  username: string;
  keys: UserKeys;
  epochs: EpochStore;
  /** Told of each members-mode epoch accepted: its change of members and who made it. */
  onMemberChange?: (change: MemberChange) => void;
}

/**
 * A user's chat keys: every envelope verified before it is unwrapped (protocol.md, "What every
 * client checks itself"), members-mode envelopes against the committer's pinned key and this
 * client's own record of the previous epoch; the keys kept in memory and the envelopes in `epochs`.
 */
export class ChatKeys {
  private readonly api: Api;
  private readonly trust: KeyTrust;
  private readonly username: string;
  private readonly keys: UserKeys;
  private readonly chatKeys = new Map<string, CryptoKey>();
  /** This user's own public signing keys, imported once (a history of one's own messages). */
  private readonly ownSigning = new Map<SignatureAlgorithm, Promise<KeyHandle>>();
  /** Chats a chat object said are members mode: a chat's mode never changes, so no key of theirs is the server's. */
  private readonly membersChats = new Set<string>();
  /**
   * Chat keys opened only by a key a key change replaced: read with, never sent under (whoever
   * leaked that key opens them too). The chat's new epoch comes with its own envelope.
   */
  private readonly byFormerKey = new WeakSet<CryptoKey>();

  constructor(private readonly options: ChatKeysOptions) {
    this.api = options.api;
    this.trust = options.trust;
    this.username = options.username;
    this.keys = options.keys;
  }

  /**
   * Verifies the server's signature, that the envelope is this user's, for the chat asked for, and
   * not older than an epoch already seen; then unwraps, and records it.
   */
  async accept(given: KeyEnvelope | null, expected: EnvelopeExpectation): Promise<CryptoKey> {
    let change: MemberChange | undefined;
    let bytes: Bytes;
    let viaFormer = false;
    // checked below, whichever its shape, before any field is used
    const envelope = given as KeyEnvelope;
    if (isMemberEnvelope(envelope))
      ({ bytes, change, viaFormer } = await this.openMemberEnvelope(envelope, expected));
    else {
      // A chat's mode never changes: once its members made a key, a key the server made (which
      // a compromised server can always make) is a downgrade, whatever the chat object says.
      if (
        expected.keyMode === 'members' ||
        this.membersChats.has(expected.chatId) ||
        this.heldMode(expected.chatId) === 'members'
      )
        throw new EnvelopeRefused(
          `chat ${shortId(expected.chatId)}: its members make its keys, but this one was made by the server (a downgrade?)`,
        );
      const serverKey = this.trust.serverKey;
      if (!serverKey)
        throw new ClientError(`the server's key is not trusted: ${this.trust.hints.showServer}`);
      bytes = await openEnvelope(envelope, expected, {
        highest: () => this.highest(expected.chatId),
        username: this.username,
        serverKey,
        encryptionKey: decryptionKeys(this.keys, envelope.issuedAt),
        onOpened: (i) => {
          viaFormer = i > 0;
        },
      });
    }
    const key = await importChatKey(bytes);
    bytes.fill(0);
    if (viaFormer) this.byFormerKey.add(key);
    // The older-epoch check ran before the signature check and the unwrap; another accept may
    // have raised the highest epoch during them (the store only ever raises it): asked once more
    // before the key is taken, so no older key is ever returned as the chat's current one.
    this.checkStillNew(envelope, expected);
    const known = this.options.epochs.envelope(envelope.chatId, envelope.epoch) !== undefined;
    this.chatKeys.set(`${envelope.chatId}/${envelope.epoch}`, key);
    await this.options.epochs.record(envelope);
    if (change && !known) this.options.onMemberChange?.(change);
    return key;
  }

  /** The highest epoch this client holds of a chat (0 for none): the store only ever raises it. */
  private highest(chatId: string): number {
    return this.options.epochs.highestEpoch(chatId) ?? 0;
  }

  /** An envelope offered as the chat's new or current key is not older than the highest epoch held now. */
  private checkStillNew(envelope: KeyEnvelope, expected: EnvelopeExpectation): void {
    checkNotOlder(expected, envelope.epoch, this.highest(expected.chatId));
  }

  /**
   * Takes in the mode a (checked) chat object names: a chat once said to be members mode takes no
   * server-made key on this client, even before it holds any key of it (a new device, say).
   */
  noteChat(chat: Chat): void {
    if (chat.keyMode === 'members') this.membersChats.add(chat.id);
  }

  /** The mode of the keys this client holds of a chat (a chat's mode never changes), if any. */
  private heldMode(chatId: string): 'server' | 'members' | undefined {
    const epochs = this.options.epochs;
    const held = epochs.envelope(chatId, epochs.highestEpoch(chatId) ?? 0);
    return held === undefined ? undefined : isMemberEnvelope(held) ? 'members' : 'server';
  }

  /**
   * Who makes a chat's keys, to show the user: as the keys this client holds of it say, and only
   * for a chat it holds none of yet, as the server says.
   */
  keyModeOf(chat: Chat): 'server' | 'members' {
    return this.heldMode(chat.id) ?? chat.keyMode ?? 'server';
  }

  /**
   * protocol.md, members mode: besides the checks of every envelope, the member list holds this
   * user, the signature verifies under the committer's pinned key, and the committer was a member
   * of the previous epoch in this client's own record. Returns the key and the change of members.
   */
  private async openMemberEnvelope(
    envelope: MemberKeyEnvelope,
    expected: EnvelopeExpectation,
  ): Promise<{ bytes: Bytes; change: MemberChange; viaFormer: boolean }> {
    checkEnvelopeFields(envelope, expected, this.highest(expected.chatId), this.username);
    checkMemberEnvelope(envelope, this.username);
    const where = `chat ${shortId(envelope.chatId)} epoch ${envelope.epoch}`;
    // One key and one roster per epoch: a second, even signed by a member, would swap the key
    // and the members under a change already shown.
    const held = this.options.epochs.envelope(envelope.chatId, envelope.epoch);
    if (held && !sameMemberEnvelope(held, envelope))
      throw new EnvelopeRefused(
        `${where}: another key for epoch ${envelope.epoch}, which you hold already (made by ${escapeControls(envelope.committer)})`,
      );
    const change = checkCommitter(await this.previousRecord(envelope.chatId, envelope.epoch), envelope);
    const key = await this.signingKeyOf(envelope.committer, envelope.signatureAlgorithm);
    // the record and the key may have been fetched meanwhile: still not older, before the costly steps
    this.checkStillNew(envelope, expected);
    if (!(await verifyMemberSignature(this.trust.provider, key, envelope)))
      throw new EnvelopeRefused(
        `${where}: the signature of ${escapeControls(envelope.committer)} does not verify`,
      );
    this.checkStillNew(envelope, expected);
    let bytes: Bytes;
    let viaFormer = false;
    try {
      bytes = await unwrapWithAny(decryptionKeys(this.keys, envelope.issuedAt), envelope.wrappedKey, (i) => {
        viaFormer = i > 0;
      });
    } catch {
      throw new EnvelopeRefused(`${where}: it does not unwrap with your key`);
    }
    await this.pinMembers(envelope.members);
    return { bytes, change, viaFormer };
  }

  /**
   * Pins, on first sight, the keys of every member of a roster this client took: a later commit
   * by one of them is then checked under a key pinned before it, not one the server hands over
   * at that moment. A changed key is not refused here: `changed` holds it, and that member's
   * messages and keys are refused until the user compares fingerprints.
   */
  private async pinMembers(members: readonly string[]): Promise<void> {
    for (const u of members) if (u !== this.username) await this.trust.peerKeys(u).catch(() => undefined);
  }

  /**
   * A user's public signing key: this user's own from its key store (in a browser, the server's
   * copy checked at login), never one the server hands over later; a peer's pinned.
   */
  async signingKeyOf(username: string, alg: SignatureAlgorithm, receivedAt?: string): Promise<KeyHandle> {
    // a message received before a change of the sender's keys verifies under the keys it replaced
    if (receivedAt !== undefined) {
      const before = await this.trust.keysBefore(username, receivedAt, username === this.username);
      if (before) return before[alg];
    }
    if (username === this.username) {
      let own = this.ownSigning.get(alg);
      if (!own) {
        own = importPublicPem(this.trust.provider, alg, this.keys.publicKeys.signing[alg]);
        this.ownSigning.set(alg, own);
      }
      return own;
    }
    return (await this.trust.peerKeys(username))[alg];
  }

  /**
   * The verified envelope of the epoch before `epoch`, kept by this client; one it missed (a
   * device that was offline) is fetched and verified in turn. None before this user's membership
   * began, or on a device that never saw the chat: then `epoch` is the first this client sees.
   * When the server withholds a missed epoch, the latest earlier one this client holds is the
   * record: else a server could make anyone a committer by answering KEY_NOT_FOUND.
   */
  private async previousRecord(chatId: string, epoch: number): Promise<KeyEnvelope | undefined> {
    if (epoch <= 1) return undefined;
    const { epochs } = this.options;
    const kept = epochs.envelope(chatId, epoch - 1);
    if (kept || epochs.highestEpoch(chatId) === undefined) return kept;
    await this.chatKey(chatId, epoch - 1);
    for (let e = epoch - 1; e >= 1; e--) {
      const earlier = epochs.envelope(chatId, e);
      if (earlier) return earlier;
    }
    return undefined;
  }

  /** The key of one epoch: in memory, from a recorded envelope, or asked of the server for that epoch. */
  async chatKey(chatId: string, epoch: number): Promise<CryptoKey | undefined> {
    const cached = this.chatKeys.get(`${chatId}/${epoch}`);
    if (cached) return cached;
    const kept = this.options.epochs.envelope(chatId, epoch);
    if (kept) return this.accept(kept, { chatId, epoch, past: true });
    let envelope: KeyEnvelope;
    try {
      envelope = await this.api.getChatKey(chatId, { epoch });
    } catch (error) {
      if (error instanceof ApiError && error.code === 'KEY_NOT_FOUND') return undefined;
      throw error;
    }
    // A server without `?epoch=` answers with the current epoch: there is no key of this one for us.
    if (envelope?.chatId === chatId && envelope.epoch !== epoch) return undefined;
    return this.accept(envelope, { chatId, epoch, past: true });
  }

  /**
   * That `key` (of `chatId`'s `epoch`) may seal a message of this user: not one only a replaced key
   * opened ({@link byFormerKey}); else {@link EnvelopeRefused}, and nothing is sent.
   */
  checkSealable(chatId: string, epoch: number, key: CryptoKey): void {
    if (!this.sealable(key))
      throw new EnvelopeRefused(
        `chat ${shortId(chatId)} epoch ${epoch}: its key was made for the keys you replaced, so nothing is sent under it; wait for the chat's new epoch, made for your new keys`,
      );
  }

  /** Whether a message of this user may be sealed under `key` (see {@link checkSealable}). */
  sealable(key: CryptoKey): boolean {
    return !this.byFormerKey.has(key);
  }

  /** The chat's current key; `named` is the epoch an answer (STALE_EPOCH) said is current. */
  async currentKey(chatId: string, named?: number): Promise<{ epoch: number; key: CryptoKey }> {
    const envelope: KeyEnvelope = await this.api.getChatKey(chatId);
    return { epoch: envelope?.epoch, key: await this.accept(envelope, { chatId, atLeast: named }) };
  }
}
