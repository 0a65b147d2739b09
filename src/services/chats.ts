import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/types.js';
import type { KeyEnvelope } from '../crypto/envelope.js';
import { timestamp } from '../crypto/time.js';
import { Errors } from '../errors.js';
import {
  type ChatRecord,
  EpochConflictError,
  type MemberRecord,
  type NewEvent,
  type Store,
  type StoredEvent,
} from '../store/types.js';
import type { Accounts } from './accounts.js';
import type { EnvelopeIssuer } from './envelopes.js';
import type { Presence } from './presence.js';

export interface ChatView {
  id: string;
  epoch: number;
  createdBy: string;
  createdAt: string;
  members: { username: string; state: MemberRecord['state']; online: boolean }[];
}

export interface Unavailable {
  username: string;
  reason: 'offline' | 'unknown';
}

export interface ChatsDeps {
  store: Store;
  bus: Bus;
  presence: Presence;
  accounts: Accounts;
  issueEnvelopes: EnvelopeIssuer;
  maxMembers?: number;
  /** Records a security event (chat created, member invited/joined/left, key rotated). */
  audit?: (event: string, fields: Record<string, unknown>) => void;
}

/** Attempts at a membership change when another one lands first (the chat's epoch moved on). */
const MAX_ATTEMPTS = 5;

/** Membership, epochs and envelopes: every change of members rotates the chat key. */
export function createChats({
  store,
  bus,
  presence,
  accounts,
  issueEnvelopes,
  maxMembers = 100,
  audit = () => {},
}: ChatsDeps) {
  const rotating = new Set<string>();
  const checkSize = (members: number) => {
    if (members > maxMembers) throw new Errors.CHAT_FULL(`A chat has at most ${maxMembers} members.`);
  };
  async function view(chat: ChatRecord): Promise<ChatView> {
    const members = await Promise.all(
      chat.members.map(async (m) => ({
        username: m.username,
        state: m.state,
        online: await presence.isOnline(m.username),
      })),
    );
    return { id: chat.id, epoch: chat.epoch, createdBy: chat.createdBy, createdAt: chat.createdAt, members };
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
    for (const username of invitees) {
      if (!(await accounts.exists(username))) unavailable.push({ username, reason: 'unknown' });
      else if (!(await presence.isOnline(username))) unavailable.push({ username, reason: 'offline' });
      else available.push(username);
    }
    return { available, unavailable };
  }

  async function publish(events: StoredEvent[]): Promise<void> {
    for (const e of events)
      await bus.publish({ kind: 'event', type: e.type, data: e.data, id: e.id, to: e.recipients });
  }

  const event = (type: string, data: unknown, recipients: string[]): NewEvent => ({
    type,
    data: JSON.stringify(data),
    recipients,
  });

  /** Recomputes and retries a change when a concurrent one moved the epoch first. */
  async function withRetry<T>(attempt: () => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof EpochConflictError) || i >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  const chats = {
    view,

    async create(creator: string, invitees: string[]) {
      if (invitees.includes(creator)) throw new Errors.INVALID_INVITEE('You cannot invite yourself.');
      const { available, unavailable } = await classify(invitees);
      checkSize(1 + available.length);
      const now = timestamp();
      const chat: ChatRecord = {
        id: randomUUID(),
        epoch: 1,
        createdBy: creator,
        createdAt: now,
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
        event('chat.invited', { chat: chatView, keyEnvelope: envelopes.get(u), invitedBy: creator }, [u]),
      );
      await publish(await store.createChat(chat, [...envelopes.values()], events));
      audit('chat.created', { chatId: chat.id, by: creator, invited: available, epoch: 1 });
      return { chat: chatView, keyEnvelope: envelopes.get(creator) as KeyEnvelope, unavailable };
    },

    async list(username: string) {
      return { chats: await Promise.all((await store.listChats(username)).map(view)) };
    },

    async get(chatId: string, username: string) {
      return view((await memberChat(chatId, username)).chat);
    },

    async invite(chatId: string, inviter: string, invitees: string[]) {
      return withRetry(async () => {
        const { chat, member } = await memberChat(chatId, inviter);
        if (member.state !== 'joined') throw new Errors.NOT_JOINED('Join the chat before inviting others.');
        const already = invitees.filter((u) => chat.members.some((m) => m.username === u));
        if (already.length > 0) throw new Errors.ALREADY_MEMBER(`Already members: ${already.join(', ')}.`);
        const { available, unavailable } = await classify(invitees);
        if (available.length === 0) return { chat: await view(chat), unavailable };
        checkSize(chat.members.length + available.length);

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
          ...chat.members.map((m) =>
            event('chat.key', { chatId: chat.id, keyEnvelope: envelopes.get(m.username) }, [m.username]),
          ),
          ...available.map((u) =>
            event('chat.invited', { chat: chatView, keyEnvelope: envelopes.get(u), invitedBy: inviter }, [u]),
          ),
        ];
        const stored = await store.changeMembership({
          chatId: chat.id,
          expectedEpoch: chat.epoch,
          epoch,
          upsert: added,
          remove: [],
          envelopes: [...envelopes.values()],
          events,
        });
        await publish(stored);
        audit('member.invited', { chatId: chat.id, by: inviter, invited: available });
        audit('key.rotated', { chatId: chat.id, epoch, reason: 'invite' });
        return { chat: chatView, unavailable };
      });
    },

    async join(chatId: string, username: string) {
      return withRetry(async () => {
        const { chat, member } = await memberChat(chatId, username);
        const keyEnvelope = await store.getEnvelope(chat.id, chat.epoch, username);
        if (!keyEnvelope)
          throw new Error(`chat ${chat.id} has no envelope for ${username} at epoch ${chat.epoch}`);
        if (member.state === 'joined') return { chat: await view(chat), keyEnvelope };
        const next: ChatRecord = {
          ...chat,
          members: chat.members.map((m) => (m.username === username ? { ...m, state: 'joined' } : m)),
        };
        const everyone = next.members.map((m) => m.username);
        const stored = await store.changeMembership({
          chatId: chat.id,
          expectedEpoch: chat.epoch,
          epoch: chat.epoch,
          upsert: [{ ...member, state: 'joined' }],
          remove: [],
          envelopes: [],
          events: [event('member.joined', { chatId: chat.id, username }, everyone)],
        });
        await publish(stored);
        audit('member.joined', { chatId: chat.id, username });
        return { chat: await view(next), keyEnvelope };
      });
    },

    async leave(chatId: string, username: string): Promise<void> {
      await withRetry(async () => {
        const { chat } = await memberChat(chatId, username);
        const remaining = chat.members.filter((m) => m.username !== username).map((m) => m.username);
        const epoch = chat.epoch + 1;
        const envelopes = await issueEnvelopes(chat.id, epoch, remaining);
        const events = [
          event('member.left', { chatId: chat.id, username }, [...remaining, username]),
          ...remaining.map((u) => event('chat.key', { chatId: chat.id, keyEnvelope: envelopes.get(u) }, [u])),
        ];
        const stored = await store.changeMembership({
          chatId: chat.id,
          expectedEpoch: chat.epoch,
          epoch,
          upsert: [],
          remove: [username],
          envelopes: [...envelopes.values()],
          events,
        });
        await publish(stored);
        audit('member.left', { chatId: chat.id, username });
        if (remaining.length > 0) audit('key.rotated', { chatId: chat.id, epoch, reason: 'leave' });
      });
    },

    /**
     * A new epoch with the same members (after many messages, or a long time, in `fromEpoch`). If
     * the chat moved on from it meanwhile (here or on another instance), its key was just rotated.
     */
    async rotate(chatId: string, reason: string, fromEpoch: number): Promise<void> {
      if (rotating.has(chatId)) return;
      rotating.add(chatId);
      try {
        const chat = await store.getChat(chatId);
        if (!chat || chat.members.length === 0 || chat.epoch !== fromEpoch) return;
        const epoch = chat.epoch + 1;
        const members = chat.members.map((m) => m.username);
        const envelopes = await issueEnvelopes(chat.id, epoch, members);
        const stored = await store
          .changeMembership({
            chatId: chat.id,
            expectedEpoch: chat.epoch,
            epoch,
            upsert: [],
            remove: [],
            envelopes: [...envelopes.values()],
            events: members.map((u) =>
              event('chat.key', { chatId: chat.id, keyEnvelope: envelopes.get(u) }, [u]),
            ),
          })
          .catch((error) => {
            if (error instanceof EpochConflictError) return undefined;
            throw error;
          });
        if (!stored) return;
        await publish(stored);
        audit('key.rotated', { chatId: chat.id, epoch, reason });
      } finally {
        rotating.delete(chatId);
      }
    },

    async key(chatId: string, username: string): Promise<KeyEnvelope> {
      const { chat } = await memberChat(chatId, username);
      const envelope = await store.getEnvelope(chat.id, chat.epoch, username);
      if (!envelope)
        throw new Error(`chat ${chat.id} has no envelope for ${username} at epoch ${chat.epoch}`);
      return envelope;
    },
  };
  return chats;
}

export type Chats = ReturnType<typeof createChats>;
