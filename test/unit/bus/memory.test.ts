import { describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../../src/bus/memory.js';
import type { BusMessage } from '../../../src/bus/types.js';

// The bus's three ports in one process (the Redis adapters are exercised by the server tests on
// PostgreSQL and Redis: test/streams-*.test.ts, test/postgres/).
describe('the in-process bus', () => {
  it('fans out to every subscriber until it unsubscribes', async () => {
    const { fanout, close } = createMemoryBus();
    const a: BusMessage[] = [];
    const b: BusMessage[] = [];
    fanout.subscribe((m) => a.push(m));
    const off = fanout.subscribe((m) => b.push(m));
    const end: BusMessage = { kind: 'close-session', sessionId: 's1', username: 'alice' };
    await fanout.publish(end);
    off();
    await fanout.publish({ kind: 'event', type: 'presence', data: '{}', to: 'everyone' });
    expect(a).toHaveLength(2);
    expect(b).toEqual([end]);
    await close();
  });

  it('registers sessions: a user is online from the first session to the last', async () => {
    const { registry, close } = createMemoryBus();
    expect(await registry.connect('alice', 's1')).toBe(true);
    expect(await registry.connect('alice', 's2')).toBe(false);
    expect(await registry.connect('bob', 's3')).toBe(true);
    expect(await registry.onlineUsers()).toEqual(['alice', 'bob']);
    expect(await registry.disconnect('alice', 's1')).toBe(false);
    expect(await registry.disconnect('alice', 'never')).toBe(false);
    expect(await registry.isOnline('alice')).toBe(true);
    expect(await registry.disconnect('alice', 's2')).toBe(true);
    expect(await registry.isOnline('alice')).toBe(false);
    expect(await registry.onlineUsers()).toEqual(['bob']);
    await close();
    expect(await registry.onlineUsers()).toEqual([]);
  });

  it('counts per name and key within the window, and gives back what take counted', async () => {
    const { counters } = createMemoryBus();
    const logins = counters.counter('logins', 2, 60_000);
    expect(await logins.take('alice')).toBe(0);
    expect(await logins.take('alice')).toBe(0);
    expect(await logins.take('alice')).toBeGreaterThan(0);
    await logins.give('alice');
    expect(await logins.blockedFor('alice')).toBeGreaterThan(0);
    expect(await logins.blockedFor('bob')).toBe(0);
    await logins.reset('alice');
    expect(await logins.blockedFor('alice')).toBe(0);
  });
});
