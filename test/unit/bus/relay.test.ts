import { describe, expect, it } from 'vitest';
import { openOrderedMemoryFanout } from '../../../src/bus/memory.js';
import { orderedRelay } from '../../../src/bus/relay.js';
import type { BusMessage } from '../../../src/bus/types.js';
import type { StoredEvent } from '../../../src/store/message-types.js';

const event = (id: number): BusMessage & { kind: 'event' } => ({
  kind: 'event',
  type: 'message',
  data: `{"n":${id}}`,
  id,
  to: ['alice'],
});

/** A relay over a fake store holding events 1..latest; `delivered` resolves when `n` ids are out. */
function setup(latest: number, stored: number[] = []) {
  const out: number[] = [];
  const errors: unknown[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  const reads: [number, number][] = [];
  const store = {
    latest: async () => latest,
    between: async (from: number, to: number): Promise<StoredEvent[]> => {
      reads.push([from, to]);
      return stored
        .filter((id) => id >= from && id <= to)
        .map((id) => ({ id, type: 'message', data: `{"n":${id}}`, recipients: ['alice'] }));
    },
  };
  const relay = orderedRelay(
    (m) => {
      if (m.kind === 'event') out.push(m.id ?? -1);
      if (waiter && out.length >= waiter.n) waiter.resolve();
    },
    store,
    20,
    (e) => errors.push(e),
  );
  const delivered = (n: number) =>
    out.length >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }));
  return {
    relay,
    out,
    errors,
    reads,
    delivered,
    setLatest: (n: number) => {
      latest = n;
    },
  };
}

describe('the Redis bus puts events back in id order', () => {
  it('holds an event that overtook an earlier one until the earlier one arrives', async () => {
    const t = setup(10);
    await t.relay.start();
    t.relay.push(event(12));
    t.relay.push(event(13));
    expect(t.out).toEqual([]);
    t.relay.push(event(11));
    expect(t.out).toEqual([11, 12, 13]);
    // a repeat (or one already read from the store) is not delivered twice
    t.relay.push(event(12));
    expect(t.out).toEqual([11, 12, 13]);
    expect(t.reads).toEqual([]);
    t.relay.close();
  });

  it('reads ids that never arrive from the store, skipping pruned ones', async () => {
    // 11 and 13 were committed but their instance died before publishing; 12 was pruned since
    const t = setup(10, [11, 13]);
    await t.relay.start();
    t.relay.push(event(14));
    await t.delivered(3);
    expect(t.out).toEqual([11, 13, 14]);
    expect(t.reads).toEqual([[11, 13]]);
    expect(t.errors).toEqual([]);
    t.relay.close();
  });

  it('catches up with the store after losing the subscription, and passes presence through', async () => {
    const t = setup(10, [11, 12]);
    await t.relay.start();
    t.relay.push({ kind: 'event', type: 'presence', data: '{}', to: 'everyone' });
    expect(t.out).toEqual([-1]);
    t.setLatest(12);
    await t.relay.catchUp();
    expect(t.out).toEqual([-1, 11, 12]);
    t.relay.push(event(11));
    t.relay.push(event(13));
    expect(t.out).toEqual([-1, 11, 12, 13]);
    t.relay.close();
  });

  it('delivers nothing older than the store held when it started', async () => {
    const t = setup(10);
    t.relay.push(event(9));
    t.relay.push(event(11));
    await t.relay.start();
    expect(t.out).toEqual([11]);
    t.relay.close();
  });

  it('keeps going when a listener throws', async () => {
    const out: number[] = [];
    const errors: unknown[] = [];
    const relay = orderedRelay(
      (m) => {
        if (m.kind === 'event' && m.id === 11) throw new Error('listener failed');
        if (m.kind === 'event') out.push(m.id ?? -1);
      },
      { latest: async () => 10, between: async () => [] },
      20,
      (e) => errors.push(e),
    );
    await relay.start();
    relay.push(event(11));
    relay.push(event(12));
    expect(out).toEqual([12]);
    expect(errors).toHaveLength(1);
    relay.close();
  });
});

describe('the in-process bus on a store whose commits can be answered out of order', () => {
  it('passes events on in id order, fills a missing one from the store, and ends sessions at once', async () => {
    const stored = [11, 12, 13];
    const bus = await openOrderedMemoryFanout(
      {
        latest: async () => 10,
        between: async (from, to) =>
          stored
            .filter((id) => id >= from && id <= to)
            .map((id) => ({ id, type: 'message', data: `{"n":${id}}`, recipients: ['alice'] })),
      },
      (error) => {
        throw error;
      },
      20,
    );
    const out: (number | string)[] = [];
    let filled!: () => void;
    const done = new Promise<void>((resolve) => (filled = resolve));
    bus.subscribe((m) => {
      out.push(m.kind === 'event' ? (m.id ?? -1) : m.kind);
      if (m.kind === 'event' && m.id === 13) filled();
    });
    await bus.publish(event(12));
    await bus.publish({ kind: 'close-session', sessionId: 's', username: 'alice' });
    expect(out).toEqual(['close-session']); // 12 waits for 11
    await bus.publish(event(11));
    expect(out).toEqual(['close-session', 11, 12]);
    // 13 committed but its publication never comes: a later one makes the gap visible
    await bus.publish(event(14));
    await done;
    expect(out).toEqual(['close-session', 11, 12, 13, 14]);
    await bus.close();
  });
});
