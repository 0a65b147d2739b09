import { randomUUID } from 'node:crypto';
import { localCounter } from '../bus/memory-counters.js';
import type { Fanout, SharedCounter } from '../bus/types.js';
import type { AnyKeyEnvelope } from '../client/members.js';
import type { KeyEnvelope } from '../crypto/envelope.js';
import { timestamp } from '../crypto/time.js';
import { Errors, isOutage, rateLimited, unavailable } from '../errors.js';
import {
  blocksPosting,
  type ChatRecord,
  EpochConflictError,
  type KeyMode,
  type MemberRecord,
  type Store,
} from '../store/types.js';
import type { Accounts } from './accounts.js';
import { changeOf, chatCommitter } from './chat-change.js';
import { decodeCursor, encodeCursor, type ListingCursor } from './chat-cursor.js';
import { chatQueue } from './chat-queue.js';
import type { EnvelopeIssuer } from './envelopes.js';
import { chatEvent, keyEvents } from './events.js';
import { createMembersMode } from './members-mode.js';
import { invitationWaits, isMembersMode, type PendingView, pendingView } from './pending.js';
import type { Presence } from './presence.js';

export interface ChatView {
  id: string;
  epoch: number;
  createdBy: string;
  createdAt: string;
  members: { username: string; state: MemberRecord['state']; online: boolean }[];
  keyMode: KeyMode;
  /** Members mode only: the epoch waiting for a member's commit, or null. */
  pending?: PendingView | null;
}

export interface Unavailable {
  username: string;
  reason: 'offline' | 'unknown';
}

export interface ChatsDeps {
  store: Store;
  bus: Fanout;
  presence: Presence;
  accounts: Accounts;
  issueEnvelopes: EnvelopeIssuer;
  maxMembers?: number;
  limits?: Partial<ChatLimits>;
  /** Records a security event (chat created, member invited/joined/left, key rotated). */
  audit?: (event: string, fields: Record<string, unknown>) => void;
}

export interface ChatLimits {
  /** Chats one user may create per minute. */
  createPerMinute: number;
  /** Invitations and leaves one user may make per minute (each re-signs every member's key). */
  membershipPerMinute: number;
  /** Chats one user may be a member of; creating one more is refused. */
  maxChatsPerUser: number;
}

const DEFAULT_LIMITS: ChatLimits = { createPerMinute: 30, membershipPerMinute: 60, maxChatsPerUser: 1000 };

/**
 * Attempts at a membership change when another instance's lands first (the chat's epoch moved
 * on); in between, a jittered pause that doubles. On this instance changes to one chat queue.
 */
const MAX_ATTEMPTS = 5;
const BACKOFF_MS = 25;
/** Up to this many distinct users, presence is asked per user; beyond, once for everyone online. */
const FEW_USERS = 64;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Membership, epochs and envelopes: every change of members rotates the chat key. */
export function createChats({
  store,
  bus,
  presence,
  accounts,
  issueEnvelopes,
  maxMembers = 100,
  limits: partialLimits = {},
  audit = () => {},
}: ChatsDeps) {
  const limits = { ...DEFAULT_LIMITS, ...partialLimits };
  const rotating = new Set<string>();
  const serialized = chatQueue();
  // Per process, as posting is: a leave must not wait for Redis to count it.
  const creations = localCounter('chat-creations', limits.createPerMinute, 60_000);
  const membershipChanges = localCounter('membership-changes', limits.membershipPerMinute, 60_000);
  const checkSize = (members: number) => {
    if (members > maxMembers) throw new Errors.CHAT_FULL(`A chat has at most ${maxMembers} members.`);
  };

  /**
   * SECURECHAT_MAX_CHATS caps the chats a user has joined: invitations do not count (others make
   * them), so creating or joining one more is what is refused.
   */
  async function checkRoomFor(username: string): Promise<void> {
    if ((await store.countJoinedChats(username)) >= limits.maxChatsPerUser) {
      throw new Errors.TOO_MANY_CHATS(
        `You have joined ${limits.maxChatsPerUser} chats, the most allowed; leave one first.`,
      );
    }
  }

  /** Counts one operation of `username` against `counter`, or answers 429 when over it. */
  async function charge(counter: SharedCounter, username: string, what: string): Promise<void> {
    const wait = await counter.blockedFor(username);
    if (wait > 0) throw rateLimited(`Too many ${what}; try again in ${Math.ceil(wait)} s.`, wait);
    await counter.hit(username);
  }

  /**
   * `work`, counted against `counter` (429 when over it); an outage (503: the presence in Redis,
   * the database) gives the count back, since nothing was done.
   */
  async function charged<T>(counter: SharedCounter, username: string, what: string, work: () => Promise<T>) {
    await charge(counter, username, what);
    try {
      return await work();
    } catch (error) {
      if (isOutage(error)) await counter.give(username);
      throw error;
    }
  }

  /**
   * Which of `usernames` are online, each asked once however many chats name them: a few one by
   * one (in parallel), many with one question for everyone online.
   */
  async function onlineAmong(usernames: Iterable<string>): Promise<Set<string>> {
    const unique = [...new Set(usernames)];
    if (unique.length > FEW_USERS) return new Set(await presence.onlineUsers());
    const online = await Promise.all(unique.map((u) => presence.isOnline(u)));
    return new Set(unique.filter((_, i) => online[i]));
  }
  const membersOf = (chats: ChatRecord[]) => chats.flatMap((c) => c.members.map((m) => m.username));

  function viewWith(chat: ChatRecord, onlineNow: Set<string>): ChatView {
    const members = chat.members.map((m) => ({
      username: m.username,
      state: m.state,
      online: onlineNow.has(m.username),
    }));
    const keyMode = chat.keyMode ?? 'server';
    return {
      id: chat.id,
      epoch: chat.epoch,
      createdBy: chat.createdBy,
      createdAt: chat.createdAt,
      members,
      keyMode,
      ...(keyMode === 'members' && { pending: pendingView(chat.pending) }),
    };
  }

  async function view(chat: ChatRecord): Promise<ChatView> {
    return viewWith(chat, await onlineAmong(membersOf([chat])));
  }

  /** The chat if `username` is a member; otherwise CHAT_NOT_FOUND, so ids leak nothing. */
  async function memberChat(chatId: string, username: string) {
    const chat = await store.getChat(chatId.toLowerCase());
    const member = chat?.members.find((m) => m.username === username);
    if (!chat || !member) throw new Errors.CHAT_NOT_FOUND(chatId);
    return { chat, member };
  }

  async function classify(invitees: string[]) {
    const available: string[] = [];
    const unavailable: Unavailable[] = [];
    const onlineNow = await onlineAmong(invitees);
    for (const username of invitees) {
      if (!(await accounts.exists(username))) unavailable.push({ username, reason: 'unknown' });
      else if (!onlineNow.has(username)) unavailable.push({ username, reason: 'offline' });
      else available.push(username);
    }
    return { available, unavailable };
  }

  const commit = chatCommitter(store, bus, audit);
  const membersMode = createMembersMode({ view, commit });

  /**
   * Runs a change to one chat after the others queued for it on this instance, and recomputes
   * and retries it (after a jittered pause) when another instance moved the epoch first. When
   * that keeps happening, 503 with Retry-After: never a 500.
   */
  async function withRetry<T>(chatId: string, attempt: () => Promise<T>): Promise<T> {
    return serialized(chatId.toLowerCase(), async () => {
      for (let i = 1; ; i++) {
        try {
          return await attempt();
        } catch (error) {
          if (!(error instanceof EpochConflictError)) throw error;
          if (i >= MAX_ATTEMPTS)
            throw unavailable('The chat kept changing while this change was made; try again.', 1);
          await pause(Math.random() * BACKOFF_MS * 2 ** i);
        }
      }
    });
  }

  /** The caller's envelope for the chat's current epoch (written with the epoch, so it is there). */
  async function currentEnvelope(chat: ChatRecord, username: string): Promise<AnyKeyEnvelope> {
    if (chat.epoch === 0)
      throw new Errors.KEY_NOT_FOUND(
        'The chat has no key yet: its first epoch waits for a member to commit it.',
      );
    const envelope = await store.getEnvelope(chat.id, chat.epoch, username);
    // Only a read that saw half a change could miss it: read again.
    if (!envelope) throw new EpochConflictError(`no envelope for ${username} at epoch ${chat.epoch}`);
    return envelope;
  }

  const chats = {
    view,

    async create(creator: string, invitees: string[], keyMode: KeyMode = 'server') {
      if (invitees.includes(creator)) throw new Errors.INVALID_INVITEE('You cannot invite yourself.');
      await checkRoomFor(creator);
      return charged(creations, creator, 'chats created', async () => {
        const { available, unavailable } = await classify(invitees);
        checkSize(1 + available.length);
        if (keyMode === 'members')
          return { chat: await membersMode.create(creator, available), keyEnvelope: null, unavailable };
        const chat: ChatRecord = {
          id: randomUUID(),
          epoch: 1,
          createdBy: creator,
          createdAt: timestamp(),
          members: [
            { username: creator, state: 'joined', sinceEpoch: 1 },
            ...available.map((username): MemberRecord => ({ username, state: 'invited', sinceEpoch: 1 })),
          ],
        };
        const envelopes = await issueEnvelopes(
          chat.id,
          1,
          chat.members.map((m) => m.username),
        );
        const chatView = await view(chat);
        const events = available.map((u) =>
          chatEvent('chat.invited', { chat: chatView, keyEnvelope: envelopes.get(u), invitedBy: creator }, [
            u,
          ]),
        );
        await commit({ create: chat, envelopes: [...envelopes.values()], events }, [
          ['chat.created', { chatId: chat.id, by: creator, invited: available, epoch: 1 }],
        ]);
        return { chat: chatView, keyEnvelope: envelopes.get(creator) as KeyEnvelope, unavailable };
      });
    },

    /** One page of the caller's chats, most recent activity first; `nextCursor` null on the last. */
    async list(username: string, limit: number, cursor?: string) {
      const latest = async () => (await store.eventBounds()).latest;
      const decoded = cursor === undefined ? {} : decodeCursor(cursor);
      // read before the page: whatever commits later has a higher id, and comes in the next pass
      const at: ListingCursor = { ...decoded, bound: decoded.bound ?? (await latest()) };
      const rows = await store.listChats(username, limit + 1, at);
      const page = rows.slice(0, limit);
      const onlineNow = await onlineAmong(membersOf(page));
      const last = page[page.length - 1];
      let next: ListingCursor | undefined;
      if (rows.length > limit) next = { ...at, activeAt: last.activeAt, id: last.id };
      else {
        // this pass is over; chats active since it began (read after the page) come again
        const bound = await latest();
        if ((await store.listChats(username, 1, { since: at.bound })).length > 0)
          next = { since: at.bound, bound };
      }
      return {
        chats: page.map((chat) => viewWith(chat, onlineNow)),
        nextCursor: next ? encodeCursor(next) : null,
      };
    },

    async get(chatId: string, username: string) {
      return view((await memberChat(chatId, username)).chat);
    },

    async invite(chatId: string, inviter: string, invitees: string[]) {
      return charged(membershipChanges, inviter, 'invitations and leaves', () =>
        withRetry(chatId, async () => {
          const { chat, member } = await memberChat(chatId, inviter);
          if (member.state !== 'joined') throw new Errors.NOT_JOINED('Join the chat before inviting others.');
          const already = invitees.filter((u) => chat.members.some((m) => m.username === u));
          if (already.length > 0) throw new Errors.ALREADY_MEMBER(`Already members: ${already.join(', ')}.`);
          if (chat.pending) throw invitationWaits(chat.pending, inviter);
          const { available, unavailable } = await classify(invitees);
          if (available.length === 0) return { chat: await view(chat), unavailable };
          checkSize(chat.members.length + available.length);
          if (isMembersMode(chat))
            return { chat: await membersMode.propose(chat, { added: available, inviter }), unavailable };

          const epoch = chat.epoch + 1;
          const added = available.map(
            (username): MemberRecord => ({ username, state: 'invited', sinceEpoch: epoch }),
          );
          const next: ChatRecord = { ...chat, epoch, members: [...chat.members, ...added] };
          const envelopes = await issueEnvelopes(
            chat.id,
            epoch,
            next.members.map((m) => m.username),
          );
          const chatView = await view(next);
          const events = [
            ...keyEvents(
              chat.id,
              envelopes,
              chat.members.map((m) => m.username),
            ),
            ...available.map((u) =>
              chatEvent(
                'chat.invited',
                { chat: chatView, keyEnvelope: envelopes.get(u), invitedBy: inviter },
                [u],
              ),
            ),
          ];
          await commit(changeOf(chat, { epoch, upsert: added, envelopes: [...envelopes.values()], events }), [
            ['member.invited', { chatId: chat.id, by: inviter, invited: available }],
            ['key.rotated', { chatId: chat.id, epoch, reason: 'invite' }],
          ]);
          return { chat: chatView, unavailable };
        }),
      );
    },

    async join(chatId: string, username: string) {
      return withRetry(chatId, async () => {
        const { chat, member } = await memberChat(chatId, username);
        const keyEnvelope = await currentEnvelope(chat, username);
        if (member.state === 'joined') return { chat: await view(chat), keyEnvelope };
        await checkRoomFor(username);
        const next: ChatRecord = {
          ...chat,
          members: chat.members.map((m) => (m.username === username ? { ...m, state: 'joined' } : m)),
        };
        // Everything that can fail (presence is in Redis) before the commit: a 503 changes nothing.
        const chatView = await view(next);
        const everyone = next.members.map((m) => m.username);
        await commit(
          changeOf(chat, {
            upsert: [{ ...member, state: 'joined' }],
            events: [
              { ...chatEvent('member.joined', { chatId: chat.id, username }, everyone), toMembers: true },
            ],
          }),
          [['member.joined', { chatId: chat.id, username }]],
        );
        return { chat: chatView, keyEnvelope };
      });
    },

    async leave(chatId: string, username: string): Promise<void> {
      // declining an invitation is not charged: others choose how many one gets
      const { member } = await memberChat(chatId, username);
      const leaving = () =>
        withRetry(chatId, async () => {
          const { chat } = await memberChat(chatId, username);
          if (isMembersMode(chat)) return membersMode.leave(chat, username);
          const remaining = chat.members.filter((m) => m.username !== username).map((m) => m.username);
          const epoch = chat.epoch + 1;
          const envelopes = await issueEnvelopes(chat.id, epoch, remaining);
          const events = [
            {
              ...chatEvent('member.left', { chatId: chat.id, username }, [...remaining, username]),
              toMembers: true,
            },
            ...keyEvents(chat.id, envelopes, remaining),
          ];
          await commit(
            changeOf(chat, { epoch, remove: [username], envelopes: [...envelopes.values()], events }),
            [
              ['member.left', { chatId: chat.id, username }],
              ...(remaining.length > 0
                ? [['key.rotated', { chatId: chat.id, epoch, reason: 'leave' }] as const]
                : []),
            ],
          );
        });
      if (member.state === 'joined')
        await charged(membershipChanges, username, 'invitations and leaves', leaving);
      else await leaving();
    },

    /**
     * A new epoch with the same members (after many messages, or a long time, in `fromEpoch`). If
     * the chat moved on from it meanwhile (here or on another instance), its key was just rotated.
     */
    async rotate(chatId: string, reason: string, fromEpoch: number): Promise<void> {
      if (rotating.has(chatId)) return;
      rotating.add(chatId);
      try {
        await serialized(chatId, () => rotateNow(chatId, reason, fromEpoch));
      } finally {
        rotating.delete(chatId);
      }
    },

    /**
     * The caller's envelope for `epoch` (default: the current one), for any epoch from the one at
     * which their membership began: that is how a new device reads older history.
     */
    async key(chatId: string, username: string, epoch?: number): Promise<AnyKeyEnvelope> {
      for (let i = 1; ; i++) {
        const { chat, member } = await memberChat(chatId, username);
        if (epoch !== undefined && epoch !== chat.epoch) {
          const envelope =
            epoch >= member.sinceEpoch && epoch < chat.epoch
              ? await store.getEnvelope(chat.id, epoch, username)
              : undefined;
          if (!envelope)
            throw new Errors.KEY_NOT_FOUND(
              `No key of epoch ${epoch} for you in this chat: yours begin at epoch ${member.sinceEpoch}, and the current one is ${chat.epoch}.`,
            );
          return envelope;
        }
        try {
          return await currentEnvelope(chat, username);
        } catch (error) {
          if (!(error instanceof EpochConflictError)) throw error;
          if (i >= MAX_ATTEMPTS) throw unavailable('The chat kept changing; try again.', 1);
        }
      }
    },
  };

  /** Drops the rotation when the chat moved on from `fromEpoch` meanwhile (its key was just rotated). */
  const ifStillCurrent = (error: unknown) => {
    if (!(error instanceof EpochConflictError)) throw error;
  };

  async function rotateNow(chatId: string, reason: string, fromEpoch: number): Promise<void> {
    const chat = await store.getChat(chatId);
    if (!chat || chat.members.length === 0 || chat.epoch !== fromEpoch) return;
    if (isMembersMode(chat)) {
      // what waits stops posting, and its commit rotates the key; additions alone are replaced
      if (blocksPosting(chat.pending)) return;
      await membersMode
        .propose(chat, { reason: reason === 'age' ? 'age' : 'messages' })
        .catch(ifStillCurrent);
      return;
    }
    const epoch = chat.epoch + 1;
    const members = chat.members.map((m) => m.username);
    const envelopes = await issueEnvelopes(chat.id, epoch, members);
    await commit(
      changeOf(chat, {
        epoch,
        envelopes: [...envelopes.values()],
        events: keyEvents(chat.id, envelopes, members),
      }),
      [['key.rotated', { chatId: chat.id, epoch, reason }]],
    ).catch(ifStillCurrent);
  }
  return chats;
}

export type Chats = ReturnType<typeof createChats>;
