import { describe, expect, it } from 'vitest';
import { createRotationSweep } from '../../../src/services/rotation-sweep.js';

const due = (...ids: string[]) => ids.map((chatId) => ({ chatId, epoch: 1 }));

describe('the age sweep (issue 15, item 8)', () => {
  it('handles errors per chat: one failing chat neither aborts the sweep nor comes first next time', async () => {
    let now = 1_000_000;
    const calls: string[] = [];
    const errors: (string | undefined)[] = [];
    const sweep = createRotationSweep({
      store: { chatsDueForRotation: async () => due('a', 'b', 'c') },
      rotate: async (chatId) => {
        calls.push(chatId);
        if (chatId === 'a') throw new Error('envelope for a member without keys');
      },
      rotateSeconds: 60,
      onError: (_error, chatId) => errors.push(chatId),
      retryMs: 1000,
      now: () => now,
    });
    expect(await sweep()).toEqual({ rotated: ['b', 'c'], failed: ['a'] });
    expect(errors).toEqual(['a']);
    // the next sweep leaves the failing chat out for a while…
    calls.length = 0;
    expect(await sweep()).toEqual({ rotated: ['b', 'c'], failed: [] });
    expect(calls).toEqual(['b', 'c']);
    // …then tries it again, and leaves it out twice as long after a second failure
    now += 1000;
    expect((await sweep()).failed).toEqual(['a']);
    now += 1000;
    expect((await sweep()).failed).toEqual([]);
    now += 1000;
    expect((await sweep()).failed).toEqual(['a']);
  });

  it('a failing chat does not take a place in the batch', async () => {
    const sweep = createRotationSweep({
      store: { chatsDueForRotation: async (_before, limit) => due('a', 'b', 'c').slice(0, limit) },
      rotate: async (chatId) => {
        if (chatId === 'a') throw new Error('no');
      },
      rotateSeconds: 60,
      onError: () => {},
      batch: 2,
    });
    expect(await sweep()).toEqual({ rotated: ['b'], failed: ['a'] });
    expect(await sweep()).toEqual({ rotated: ['b', 'c'], failed: [] });
  });

  it('yields to the event loop between chats, and a failure to list chats is logged, not thrown', async () => {
    const turns: boolean[] = [];
    let turned = false;
    const errors: unknown[] = [];
    let fail = false;
    const sweep = createRotationSweep({
      store: {
        chatsDueForRotation: async () => {
          if (fail) throw new Error('database away');
          return due('a', 'b', 'c');
        },
      },
      rotate: async () => {
        turns.push(turned);
      },
      rotateSeconds: 60,
      onError: (error) => errors.push(error),
    });
    setImmediate(() => {
      turned = true;
    });
    await sweep();
    expect(turns).toEqual([false, true, true]);
    fail = true;
    expect(await sweep()).toEqual({ rotated: [], failed: [] });
    expect(errors).toHaveLength(1);
  });
});
