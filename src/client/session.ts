import type { Bytes } from './bytes.js';
import { type ChatView, checkNewChat, listChats, type Unavailable } from './chats.js';
import {
  checkEnvelopeFields,
  type EnvelopeExpectation,
  importChatKey,
  importEncryptionKey,
  openEnvelope,
  unwrapChatKeyBytes,
} from './envelope.js';
import { ApiError, ClientError, EnvelopeRefused, MessageRefused } from './errors.js';
import {
  type Fingerprints,
  type PemKeyPairSet,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
} from './keys.js';
import {
  buildCommit,
  checkCommitter,
  checkMemberEnvelope,
  commitRefusal,
  isMemberEnvelope,
  type AnyKeyEnvelope as KeyEnvelope,
  type MemberChange,
  type MemberKeyEnvelope,
  type PendingEpoch,
  sameMemberEnvelope,
  verifyMemberSignature,
} from './members.js';
import {
  composeMessage,
  type MessageBody,
  type MessageData,
  messageScheme,
  openMessage,
  verifyMessageSignature,
} from './message.js';
import { importPrivatePem, importPublicPem, type KeyHandle, type SignatureProvider } from './signatures.js';
import type { FeedEvent } from './sse.js';
import type { EpochStore } from './stores.js';
import { escapeControls, shortId } from './text.js';
import { checkedKeySet, KeyTrust, type TrustOptions } from './trust.js';
import { checkChat, checkEvent, checkMessage, checkUnavailable } from './validate.js';

/** A user's own keys, imported: the private ones non-extractable, the public ones as PEM. */
export interface UserKeys {
  encryption: CryptoKey;
  /** The schemes this client can sign with (a browser has no DSA signing). */
  signing: Partial<Record<SignatureAlgorithm, KeyHandle>>;
  publicKeys: { encryption: string; signing: Record<SignatureAlgorithm, string> };
}

export async function importUserKeys(pems: PemKeyPairSet, provider: SignatureProvider): Promise<UserKeys> {
  const signing: UserKeys['signing'] = {};
  for (const alg of SIGNATURE_ALGORITHMS) {
    // a scheme the provider does not sign with (DSA in a browser) is left out
    if (provider.canSign?.(alg) === false) continue;
    signing[alg] = await importPrivatePem(provider, alg, pems.signing[alg].privateKey);
  }
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

export interface ClientOptions extends TrustOptions {
  username: string;
  keys: UserKeys;
  epochs: EpochStore;
  /** Told of each members-mode epoch accepted: its change of members and who made it. */
  onMemberChange?: (change: MemberChange) => void;
  /** Told when this client will not commit a pending epoch, and why (a ghost member, say). */
  onCommitRefused?: (chatId: string, pending: PendingEpoch, reason: string) => void;
  /** The scheme commits are signed with (the user's setting); else the first of Ed25519, RSA-PSS, DSA it has. */
  commitAlgorithm?: () => SignatureAlgorithm;
}

/** What `commitPending` did: committed, nothing to do, lost to another member's commit, or refused. */
export type CommitOutcome =
  | { status: 'committed'; chat: ChatView }
  | { status: 'none' | 'lost' }
  | { status: 'refused'; reason: string };

/**
 * A logged-in user with their keys: verifies every envelope before unwrapping it and every
 * message before showing it, and pins the server's and peers' keys on first use
 * (protocol.md, "What every client checks itself").
 */
export class Client extends KeyTrust {
  readonly username: string;
  readonly keys: UserKeys;
  private readonly chatKeys = new Map<string, CryptoKey>();
  /**
   * Members mode: per chat, the pending epoch this user's own invitation (or new chat) made and
   * whom it adds: the only additions it commits, and only for that epoch. An invitee the server
   * reported unavailable, or an invitation dropped or long committed, vouches for nothing later.
   */
  private readonly asked = new Map<string, { epoch: number; names: Set<string> }>();
  /** Commits under way, per chat: a second call (the `chat.rekey` of one's own invitation) joins the first. */
  private readonly committing = new Map<string, Promise<CommitOutcome>>();

  constructor(private readonly options: ClientOptions) {
    super(options);
    this.username = options.username;
    this.keys = options.keys;
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

  /** The user's own fingerprints, to compare out of band. */
  async ownFingerprints(): Promise<Fingerprints> {
    const pub = this.keys.publicKeys;
    return (await checkedKeySet(this.provider, pub.encryption, pub.signing)).fingerprints;
  }

  /**
   * Verifies the server's signature, that the envelope is this user's, for the chat asked for, and
   * not older than an epoch already seen; then unwraps, and records it.
   */
  async accept(given: KeyEnvelope | null, expected: EnvelopeExpectation): Promise<CryptoKey> {
    let change: MemberChange | undefined;
    let bytes: Bytes;
    // checked below, whichever its shape, before any field is used
    const envelope = given as KeyEnvelope;
    if (isMemberEnvelope(envelope)) ({ bytes, change } = await this.openMemberEnvelope(envelope, expected));
    else {
      // A chat's mode never changes: once its members made a key, a key the server made (which
      // a compromised server can always make) is a downgrade, whatever the chat object says.
      if (expected.keyMode === 'members' || this.heldMode(expected.chatId) === 'members')
        throw new EnvelopeRefused(
          `chat ${shortId(expected.chatId)}: its members make its keys, but this one was made by the server (a downgrade?)`,
        );
      if (!this.serverKey) throw new ClientError(`the server's key is not trusted: ${this.hints.showServer}`);
      bytes = await openEnvelope(envelope, expected, {
        highest: this.options.epochs.highestEpoch(expected.chatId) ?? 0,
        username: this.username,
        serverKey: this.serverKey,
        encryptionKey: this.keys.encryption,
      });
    }
    const key = await importChatKey(bytes);
    bytes.fill(0);
    // Another accept may have raised the highest epoch while this one awaited: check again now
    // (the store only ever raises it).
    const now = this.options.epochs.highestEpoch(expected.chatId) ?? 0;
    if (!expected.past && envelope.epoch < now)
      throw new EnvelopeRefused(
        `chat ${shortId(expected.chatId)}: epoch ${envelope.epoch} is older than epoch ${now}, already seen (a replayed key?)`,
      );
    const known = this.options.epochs.envelope(envelope.chatId, envelope.epoch) !== undefined;
    this.chatKeys.set(`${envelope.chatId}/${envelope.epoch}`, key);
    await this.options.epochs.record(envelope);
    if (change && !known) this.options.onMemberChange?.(change);
    return key;
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
  keyModeOf(chat: ChatView): 'server' | 'members' {
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
  ): Promise<{ bytes: Bytes; change: MemberChange }> {
    checkEnvelopeFields(
      envelope,
      expected,
      this.options.epochs.highestEpoch(expected.chatId) ?? 0,
      this.username,
    );
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
    if (!(await verifyMemberSignature(this.provider, key, envelope)))
      throw new EnvelopeRefused(
        `${where}: the signature of ${escapeControls(envelope.committer)} does not verify`,
      );
    let bytes: Bytes;
    try {
      bytes = await unwrapChatKeyBytes(this.keys.encryption, envelope.wrappedKey);
    } catch {
      throw new EnvelopeRefused(`${where}: it does not unwrap with your key`);
    }
    await this.pinMembers(envelope.members);
    return { bytes, change };
  }

  /**
   * Pins, on first sight, the keys of every member of a roster this client took: a later commit
   * by one of them is then checked under a key pinned before it, not one the server hands over
   * at that moment. A changed key is not refused here: `changed` holds it, and that member's
   * messages and keys are refused until the user compares fingerprints.
   */
  private async pinMembers(members: readonly string[]): Promise<void> {
    for (const u of members) if (u !== this.username) await this.peerKeys(u).catch(() => undefined);
  }

  /** A user's public signing key: this user's own from its key store, a peer's pinned. */
  private async signingKeyOf(username: string, alg: SignatureAlgorithm): Promise<KeyHandle> {
    if (username === this.username)
      return importPublicPem(this.provider, alg, this.keys.publicKeys.signing[alg]);
    return (await this.peerKeys(username))[alg];
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

  /**
   * POST /chats: the answer checked (a chat just created by this user, new to this client, at
   * epoch 1; a replayed answer is refused before anything is sent to it), its envelope accepted.
   */
  async createChat(
    invitees: string[],
    options: { keyMode?: 'server' | 'members' } = {},
  ): Promise<{ chat: ChatView; unavailable: Unavailable }> {
    const members = options.keyMode === 'members';
    const res = await this.api.call<{ chat: ChatView; keyEnvelope: KeyEnvelope; unavailable: Unavailable }>(
      'POST',
      '/chats',
      members ? { invitees, keyMode: 'members' } : { invitees },
    );
    checkChat(res?.chat);
    checkUnavailable(res.unavailable);
    checkNewChat(res.chat, this.username, this.options.epochs, members ? 'members' : 'server');
    if (members) {
      // only the invitees asked for here may be in the first epoch this client commits
      this.askFor(res.chat, invitees);
      const outcome = await this.commitPending(res.chat.id);
      if (outcome.status === 'refused')
        throw new EnvelopeRefused(`the new chat's first epoch: ${outcome.reason}`);
      return { chat: outcome.status === 'committed' ? outcome.chat : res.chat, unavailable: res.unavailable };
    }
    await this.accept(res.keyEnvelope, { chatId: res.chat.id, epoch: res.chat.epoch });
    return { chat: res.chat, unavailable: res.unavailable };
  }

  /** POST /chats/{chatId}/invite, its answer checked. */
  async invite(chatId: string, invitees: string[]): Promise<{ chat: ChatView; unavailable: Unavailable }> {
    const res = await this.api.call<{ chat: ChatView; unavailable: Unavailable }>(
      'POST',
      `/chats/${encodeURIComponent(chatId)}/invite`,
      { invitees },
    );
    checkChat(res?.chat);
    checkUnavailable(res.unavailable);
    if (res.chat.keyMode === 'members' && res.chat.pending) {
      this.askFor(res.chat, invitees);
      const outcome = await this.commitPending(chatId);
      if (outcome.status === 'committed') return { chat: outcome.chat, unavailable: res.unavailable };
    }
    return res;
  }

  /**
   * Commits the chat's pending epoch (members mode) if the protocol's rule lets this user: every
   * addition one this user asked for, removals and rotations by any joined member, and the list
   * exactly this client's record with the changes named. Called after creating and inviting, on
   * `chat.rekey`, when posting meets REKEY_PENDING, and for every chat on connecting.
   */
  commitPending(chatId: string): Promise<CommitOutcome> {
    const running = this.committing.get(chatId);
    if (running) return running;
    const commit = this.commitOnce(chatId).finally(() => this.committing.delete(chatId));
    this.committing.set(chatId, commit);
    return commit;
  }

  private async commitOnce(chatId: string, retried = false): Promise<CommitOutcome> {
    const chat = await this.api.call<ChatView>('GET', `/chats/${encodeURIComponent(chatId)}`);
    checkChat(chat);
    const p = chat.pending;
    const me = chat.members.find((m) => m.username === this.username);
    if (chat.keyMode !== 'members' || !p || me?.state !== 'joined') return { status: 'none' };
    if (p.epoch === 1 && chat.createdBy !== this.username) return { status: 'none' };
    const previous = p.epoch === 1 ? [this.username] : await this.recordedMembers(chatId, p.epoch - 1);
    const highest = this.options.epochs.highestEpoch(chatId);
    const ask = this.asked.get(chatId);
    const reason =
      highest !== undefined && p.epoch !== highest + 1
        ? `its epoch ${p.epoch} is not the one after epoch ${highest}, the latest you hold`
        : commitRefusal(p, this.username, previous, ask?.epoch === p.epoch ? ask.names : new Set());
    if (reason !== undefined) {
      this.options.onCommitRefused?.(chatId, p, reason);
      return { status: 'refused', reason };
    }
    const alg = this.commitScheme();
    const body = await buildCommit(this.provider, {
      chatId,
      epoch: p.epoch,
      members: p.members,
      committer: this.username,
      alg,
      signingKey: this.keys.signing[alg],
      wrapFor: (u) =>
        u === this.username ? Promise.resolve(this.keys.publicKeys.encryption) : this.peerEncryptionKey(u),
    });
    let res: { chat: ChatView; keyEnvelope: KeyEnvelope };
    try {
      res = await this.api.call('POST', `/chats/${encodeURIComponent(chatId)}/epochs`, body);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'EPOCH_COMMITTED') return { status: 'lost' };
      if (error instanceof ApiError && error.code === 'PENDING_MISMATCH' && !retried)
        return this.commitOnce(chatId, true);
      throw error;
    }
    checkChat(res?.chat);
    await this.accept(res.keyEnvelope, { chatId, epoch: p.epoch });
    if (this.asked.get(chatId)?.epoch === p.epoch) this.asked.delete(chatId);
    return { status: 'committed', chat: res.chat };
  }

  /** Remembers whom this user's own request adds in the pending epoch its answer names. */
  private askFor(chat: ChatView, invitees: string[]): void {
    const p = chat.pending;
    if (p)
      this.asked.set(chat.id, {
        epoch: p.epoch,
        names: new Set(invitees.filter((u) => p.added.includes(u))),
      });
  }

  /**
   * What a client does with the key events of its stream: accepts a new epoch's envelope
   * (`chat.key`, `chat.invited`), and commits a pending epoch it may commit (`chat.rekey`). A
   * refusal is thrown, for the caller to show.
   */
  async handleKeyEvent(event: FeedEvent): Promise<CommitOutcome | undefined> {
    checkEvent(event.type, event.data);
    const d = event.data;
    if (event.type === 'chat.key') await this.accept(d.keyEnvelope, { chatId: d.chatId });
    else if (event.type === 'chat.invited')
      await this.accept(d.keyEnvelope, { chatId: d.chat.id, epoch: d.chat.epoch, keyMode: d.chat.keyMode });
    else if (event.type === 'chat.rekey' && d.pending) return this.commitPending(d.chatId);
    // the wait was dropped: the invitation failed, and vouches for nothing any more
    else if (event.type === 'chat.rekey') this.asked.delete(d.chatId);
    return undefined;
  }

  /** Commits what waits in every chat of this user (on connecting: a removal nobody was online for). */
  async commitAllPending(): Promise<Map<string, CommitOutcome>> {
    const outcomes = new Map<string, CommitOutcome>();
    for (const chat of await listChats(this.api))
      if (chat.keyMode === 'members' && chat.pending)
        outcomes.set(chat.id, await this.commitPending(chat.id));
    return outcomes;
  }

  /** The members of `epoch` in this client's own record (fetching a missed epoch, verified), if any. */
  private async recordedMembers(chatId: string, epoch: number): Promise<string[] | undefined> {
    let kept = this.options.epochs.envelope(chatId, epoch);
    if (!kept) {
      await this.chatKey(chatId, epoch);
      kept = this.options.epochs.envelope(chatId, epoch);
    }
    return isMemberEnvelope(kept) ? kept.members : undefined;
  }

  private commitScheme(): SignatureAlgorithm {
    const chosen = this.options.commitAlgorithm?.();
    if (chosen && this.keys.signing[chosen] !== undefined) return chosen;
    const alg = (['ed25519', 'rsa-pss-sha256', 'dsa-sha256'] as const).find(
      (a) => this.keys.signing[a] !== undefined,
    );
    if (!alg) throw new ClientError('this client has no signing key to commit a key with');
    return alg;
  }

  /** POST /chats/{chatId}/join, its answer checked and its envelope accepted. */
  async join(chatId: string): Promise<ChatView> {
    const res = await this.api.call<{ chat: ChatView; keyEnvelope: KeyEnvelope }>(
      'POST',
      `/chats/${encodeURIComponent(chatId)}/join`,
    );
    checkChat(res?.chat);
    await this.accept(res.keyEnvelope, { chatId, epoch: res.chat.epoch, keyMode: res.chat.keyMode });
    // members mode: a removal or rotation may have waited for a joined member, as this user now is
    if (res.chat.keyMode === 'members' && res.chat.pending) await this.commitPending(chatId);
    return res.chat;
  }

  /** A sealed, signed message body of this user. */
  compose(
    chatId: string,
    epoch: number,
    key: CryptoKey,
    text: string,
    alg: SignatureAlgorithm,
  ): Promise<MessageBody> {
    const signingKey = this.keys.signing[alg];
    if (signingKey === undefined) throw new ClientError(`this client does not sign with ${alg}`);
    return composeMessage(this.provider, {
      chatId,
      epoch,
      sender: this.username,
      key,
      text,
      alg,
      signingKey,
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
      if (error instanceof ApiError && error.code === 'REKEY_PENDING') {
        // members mode: make the waiting key if this user may, then send under it
        const outcome = await this.commitPending(chatId);
        if (outcome.status !== 'committed' && outcome.status !== 'lost')
          throw new ClientError(
            `chat ${shortId(chatId)}: a new key waits for another member to make it; send again shortly`,
          );
        const current = await this.currentKey(chatId);
        return { ...(await post(current.epoch, current.key)), epoch: current.epoch };
      }
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

  /**
   * Verifies that the message is of the chat being shown and the sender's signature (against keys
   * fetched and pinned), then decrypts. Showing each (chatId, id) once is the caller's view's job.
   */
  async read(data: MessageData, chatId: string): Promise<string> {
    checkMessage(data); // the shape first: a malformed one is refused
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

  private closing?: Promise<void>;

  /** Logs out and closes, once, whichever exit path (quit, signal, broken pipe, error) calls it. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** What close() does, once. */
  protected async shutdown(): Promise<void> {
    try {
      await this.api.logout();
    } catch {
      // the token may already be gone (server restarted with a new secret, or expired)
    }
  }
}
