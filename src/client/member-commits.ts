import type { Answer } from '../contract/index.js';
import type { Api } from './api.js';
import type { ChatKeys } from './chat-keys.js';
import { type Chat, listAllChats, type Unavailable } from './chats.js';
import { ApiError, ClientError } from './errors.js';
import type { SignatureAlgorithm } from './keys.js';
import {
  buildCommit,
  commitRefusal,
  commitScheme,
  type InvitedAgain,
  isMemberEnvelope,
  type PendingEpoch,
  sameMemberEnvelope,
} from './members.js';
import { type FeedEvent, tapEvents } from './sse.js';
import type { EpochStore } from './stores.js';
import { escapeControls, shortId } from './text.js';
import type { KeyTrust } from './trust.js';
import type { UserKeys } from './user-keys.js';
import { checkChat, checkEvent, isUsername } from './validate.js';

/** What {@link MemberCommits.adding} names a new chat by, before its answer gives its id. */
export const NEW_CHAT = 'new chat';

export interface MemberCommitsOptions {
  api: Api;
  /** Peers' keys, pinned: whom a new key is wrapped for. */
  trust: KeyTrust;
  /** The chat keys: every envelope of a commit accepted there, as any other. */
  chatKeys: ChatKeys;
  username: string;
  keys: UserKeys;
  epochs: EpochStore;
  /**
   * How this client invites (its answer checked, its addition committed): what an invitation a
   * removal or rotation dropped is made again with.
   */
  invite: (chatId: string, invitees: string[]) => Promise<{ chat: Chat; unavailable: Unavailable }>;
  /** Told when this client will not commit a pending epoch, and why (a ghost member, say). */
  onCommitRefused?: (chatId: string, pending: PendingEpoch, reason: string) => void;
  /** The scheme commits are signed with (the user's setting); else the first of Ed25519, RSA-PSS, DSA it has. */
  commitAlgorithm?: () => SignatureAlgorithm;
  /** Told when this client invited again those a removal or rotation dropped (`error`: it could not). */
  onInvitedAgain?: (chatId: string, invitees: string[], outcome: InvitedAgain) => void;
}

/** What `commitPending` did: committed, nothing to do, lost to another member's commit, or refused. */
export type CommitOutcome =
  | { status: 'committed'; chat: Chat }
  | { status: 'none' | 'lost' }
  | { status: 'refused'; reason: string };

/**
 * Members mode on the client: commits a chat's pending epoch when the protocol's rule lets this
 * user (protocol.md, "Chats the server cannot read"), and takes the key events of the stream.
 */
export class MemberCommits {
  private readonly api: Api;
  private readonly trust: KeyTrust;
  private readonly chatKeys: ChatKeys;
  private readonly username: string;
  private readonly keys: UserKeys;
  /**
   * Members mode: per chat, the pending epoch this user's own invitation (or new chat) made and
   * whom it adds: the only additions it commits, and only for that epoch. An invitee the server
   * reported unavailable, or an invitation dropped or long committed, vouches for nothing later.
   */
  private readonly asked = new Map<string, { epoch: number; names: Set<string> }>();
  /**
   * This user's own requests that add members whose answer has not come yet, per chat invited to
   * ({@link NEW_CHAT} for a new chat): a `chat.rekey` of that very addition can arrive first,
   * before the answer says whom this user asked for. Such an addition is left to the answer
   * (which commits it) instead of being refused as one nobody asked for; another chat's is not
   * (an answer the server holds back must not silence the refusals of every chat).
   */
  private readonly asking = new Map<string, number>();
  /** Commits under way, per chat: a second call (the `chat.rekey` of one's own invitation) joins the first. */
  private readonly committing = new Map<string, Promise<CommitOutcome>>();
  /**
   * This user's invitations that a removal or rotation replaced (protocol.md, "Pending epochs"),
   * per chat: whom to invite again once epoch `after` is committed (`committed`: it is known to be).
   */
  private readonly dropped = new Map<string, { after: number; names: string[]; committed: boolean }>();

  constructor(private readonly options: MemberCommitsOptions) {
    this.api = options.api;
    this.trust = options.trust;
    this.chatKeys = options.chatKeys;
    this.username = options.username;
    this.keys = options.keys;
    // a peer's keys changed (or events were missed): cached keys are forgotten before any front
    // end takes the event, so no commit wraps for the old key (Accounts over time)
    tapEvents(this.api, ({ type, data }) => {
      if (type === 'resync' || (type === 'account.keys' && isUsername(data?.username)))
        this.trust.forget(type === 'resync' ? undefined : data.username);
    });
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
    const chat = await this.api.getChat(chatId);
    checkChat(chat);
    this.chatKeys.noteChat(chat);
    const p = chat.pending;
    this.noteDropped(chatId, p);
    const me = chat.members.find((m) => m.username === this.username);
    if (chat.keyMode !== 'members' || !p || me?.state !== 'joined') return { status: 'none' };
    if (p.epoch === 1 && chat.createdBy !== this.username) return { status: 'none' };
    const previous = p.epoch === 1 ? [this.username] : await this.recordedMembers(chatId, p.epoch - 1);
    const highest = this.options.epochs.highestEpoch(chatId);
    const ask = this.asked.get(chatId);
    // a new chat's first epoch (the creator's own, checked above), or an invitation to this chat
    const answerDue = this.asking.has(chatId) || (p.epoch === 1 && this.asking.has(NEW_CHAT));
    if (p.added.length > 0 && ask?.epoch !== p.epoch && answerDue) return { status: 'none' };
    const reason =
      highest !== undefined && p.epoch !== highest + 1
        ? `its epoch ${p.epoch} is not the one after epoch ${highest}, the latest you hold`
        : commitRefusal(p, this.username, previous, ask?.epoch === p.epoch ? ask.names : new Set());
    if (reason !== undefined) {
      this.options.onCommitRefused?.(chatId, p, reason);
      return { status: 'refused', reason };
    }
    const alg = commitScheme(this.keys, this.options.commitAlgorithm?.());
    const body = await buildCommit(this.trust.provider, {
      chatId,
      epoch: p.epoch,
      members: p.members,
      committer: this.username,
      alg,
      signingKey: this.keys.signing[alg],
      wrapFor: (u) =>
        u === this.username
          ? Promise.resolve(this.keys.publicKeys.encryption)
          : this.trust.peerEncryptionKey(u),
    });
    let res: Answer<'commitEpoch'>;
    try {
      res = await this.api.commitEpoch(chatId, body);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'EPOCH_COMMITTED') {
        // only this client commits its own addition: another commit of its epoch replaced it
        if (ask?.epoch === p.epoch && p.added.some((u) => ask.names.has(u)))
          this.dropAsked(chatId, p.epoch, true);
        return { status: 'lost' };
      }
      if (error instanceof ApiError && error.code === 'PENDING_MISMATCH' && !retried) {
        // the pending epoch, or a member's keys, changed meanwhile: both read anew
        this.trust.forget();
        return this.commitOnce(chatId, true);
      }
      throw error;
    }
    checkChat(res?.chat);
    // the answer is the chat committed to, at the epoch committed: else it is shown for another
    if (res.chat.id !== chatId || res.chat.epoch !== p.epoch)
      throw new ClientError(
        `the server answered the key of chat ${shortId(chatId)} epoch ${p.epoch} with chat ${shortId(res.chat.id)} epoch ${escapeControls(String(res.chat.epoch))}; nothing taken`,
      );
    await this.chatKeys.accept(res.keyEnvelope, { chatId, epoch: p.epoch });
    if (this.asked.get(chatId)?.epoch === p.epoch) this.asked.delete(chatId);
    return { status: 'committed', chat: res.chat };
  }

  /**
   * A request of this user that may add members to `chatId` (a new chat: {@link NEW_CHAT}):
   * {@link asking} until `answered` (which checks the answer and remembers whom it asked for)
   * has taken its answer.
   */
  async adding<T>(chatId: string, request: () => Promise<T>, answered: (answer: T) => void): Promise<T> {
    this.asking.set(chatId, (this.asking.get(chatId) ?? 0) + 1);
    try {
      const answer = await request();
      answered(answer);
      return answer;
    } finally {
      const left = (this.asking.get(chatId) ?? 1) - 1;
      if (left > 0) this.asking.set(chatId, left);
      else this.asking.delete(chatId);
    }
  }

  /**
   * Notes this user's invitation as dropped when what waits now replaced it: a pending epoch of
   * the same number without its invitees (a removal or rotation came first).
   */
  private noteDropped(chatId: string, p: PendingEpoch | null | undefined): void {
    const ask = this.asked.get(chatId);
    if (ask && p?.epoch === ask.epoch && !p.added.some((u) => ask.names.has(u)))
      this.dropAsked(chatId, p.epoch, false);
  }

  private dropAsked(chatId: string, after: number, committed: boolean): void {
    const names = [...(this.asked.get(chatId)?.names ?? [])];
    this.asked.delete(chatId);
    if (names.length > 0) this.dropped.set(chatId, { after, names, committed });
  }

  /**
   * Invites again those this user's dropped invitation named, once the epoch that dropped it is
   * committed (its key fetched when it is known to be committed but not yet here); once only,
   * told to `onInvitedAgain`. Returns the new invitation's answer, if it was made.
   */
  async inviteAgain(chatId: string) {
    const redo = this.dropped.get(chatId);
    const held = () => (this.options.epochs.highestEpoch(chatId) ?? 0) >= (redo?.after ?? 0);
    if (!redo || (!held() && !redo.committed)) return undefined;
    this.dropped.delete(chatId);
    try {
      if (!held()) await this.chatKeys.currentKey(chatId, redo.after);
      const res = await this.options.invite(chatId, redo.names);
      this.options.onInvitedAgain?.(chatId, redo.names, { unavailable: res.unavailable });
      return res;
    } catch (error) {
      this.options.onInvitedAgain?.(chatId, redo.names, { error: error as Error });
      return undefined;
    }
  }

  /** Remembers whom this user's own request adds in the pending epoch its answer names. */
  askFor(chat: Chat, invitees: string[]): void {
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
    let outcome: CommitOutcome | undefined;
    // a user's keys changed: checked against the pin again when next used (and refused until accepted)
    if (event.type === 'account.keys') this.trust.forget(d.username);
    else if (event.type === 'chat.key') {
      // the envelope this client holds already (it made or fetched that key itself) is nothing new
      const held = this.options.epochs.envelope(d.chatId, d.keyEnvelope?.epoch);
      if (!held || !isMemberEnvelope(d.keyEnvelope) || !sameMemberEnvelope(held, d.keyEnvelope))
        await this.chatKeys.accept(d.keyEnvelope, { chatId: d.chatId });
    } else if (event.type === 'chat.invited')
      await this.chatKeys.accept(d.keyEnvelope, {
        chatId: d.chat.id,
        epoch: d.chat.epoch,
        keyMode: d.chat.keyMode,
      });
    else if (event.type === 'chat.rekey' && d.pending) {
      this.noteDropped(d.chatId, d.pending);
      outcome = await this.commitPending(d.chatId);
    }
    // the wait was dropped: the invitation failed, and vouches for nothing any more
    else if (event.type === 'chat.rekey') this.asked.delete(d.chatId);
    if (event.type === 'chat.key' || event.type === 'chat.rekey') await this.inviteAgain(d.chatId);
    return outcome;
  }

  /** Commits what waits in every chat of this user (on connecting: a removal nobody was online for). */
  async commitAllPending(): Promise<Map<string, CommitOutcome>> {
    const outcomes = new Map<string, CommitOutcome>();
    for (const chat of await listAllChats(this.api)) {
      this.chatKeys.noteChat(chat);
      if (chat.keyMode === 'members' && chat.pending)
        outcomes.set(chat.id, await this.commitPending(chat.id));
      await this.inviteAgain(chat.id);
    }
    return outcomes;
  }

  /** The members of `epoch` in this client's own record (fetching a missed epoch, verified), if any. */
  private async recordedMembers(chatId: string, epoch: number): Promise<string[] | undefined> {
    let kept = this.options.epochs.envelope(chatId, epoch);
    if (!kept) {
      await this.chatKeys.chatKey(chatId, epoch);
      kept = this.options.epochs.envelope(chatId, epoch);
    }
    return isMemberEnvelope(kept) ? kept.members : undefined;
  }
}
