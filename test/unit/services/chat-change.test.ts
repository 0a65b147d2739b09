import { describe, expect, it } from 'vitest';
import type { Fanout } from '../../../src/bus/types.js';
import { changeOf, chatCommitter } from '../../../src/services/chat-change.js';
import { type ChatRecord, EpochConflictError } from '../../../src/store/chat-types.js';
import type { StoredEvent } from '../../../src/store/message-types.js';
import type { Store } from '../../../src/store/types.js';

const chat: ChatRecord = {
  id: 'c1',
  epoch: 3,
  createdBy: 'alice',
  createdAt: '2026-01-01T00:00:00.000Z',
  members: [{ username: 'alice', state: 'joined', sinceEpoch: 1 }],
};
const stored: StoredEvent = { id: 7, type: 'chat.key', data: '{}', recipients: ['alice'], chatId: 'c1' };

/** A store and a fan-out that log what they are asked, in order; the store's change fails with `refusal`. */
function fakes(refusal?: Error) {
  const log: string[] = [];
  const store = {
    async changeMembership(change: { chatId: string; epoch: number }) {
      log.push(`store ${change.chatId} epoch ${change.epoch}`);
      if (refusal) throw refusal;
      return [stored];
    },
    async createChat(created: ChatRecord) {
      log.push(`create ${created.id}`);
      return [stored];
    },
  } as unknown as Store;
  const bus = {
    async publish(message: { id?: number; to?: string[] }) {
      log.push(`publish ${message.id} to ${message.to?.join(',')}`);
    },
  } as unknown as Fanout;
  const audit = (event: string, fields: Record<string, unknown>) =>
    log.push(`audit ${event} ${fields.chatId}`);
  return { log, commit: chatCommitter(store, bus, audit) };
}

describe('the one path of a chat change', () => {
  it('stores, then publishes what was stored, then records every audit event, in that order', async () => {
    const { log, commit } = fakes();
    await commit(changeOf(chat, { epoch: 4 }), [
      ['member.left', { chatId: 'c1' }],
      ['key.rotated', { chatId: 'c1' }],
    ]);
    await commit({ create: chat, envelopes: [], events: [] }, [['chat.created', { chatId: 'c1' }]]);
    expect(log).toEqual([
      'store c1 epoch 4',
      'publish 7 to alice',
      'audit member.left c1',
      'audit key.rotated c1',
      'create c1',
      'publish 7 to alice',
      'audit chat.created c1',
    ]);
  });

  it('publishes and records nothing when the store refuses the change', async () => {
    const { log, commit } = fakes(new EpochConflictError('moved on'));
    await expect(commit(changeOf(chat, {}), [['key.rotated', { chatId: 'c1' }]])).rejects.toBeInstanceOf(
      EpochConflictError,
    );
    expect(log).toEqual(['store c1 epoch 3']);
  });

  it('keeps the chat, its epoch and its members unless the change says otherwise', () => {
    expect(changeOf(chat, { remove: ['bob'] })).toEqual({
      chatId: 'c1',
      expectedEpoch: 3,
      epoch: 3,
      upsert: [],
      remove: ['bob'],
      envelopes: [],
      events: [],
    });
  });
});
