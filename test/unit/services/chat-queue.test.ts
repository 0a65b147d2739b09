import { describe, expect, it } from 'vitest';
import { Errors } from '../../../src/errors.js';
import { chatQueue } from '../../../src/services/chat-queue.js';

describe('the per-chat queue of membership changes', () => {
  it('runs changes to one chat one at a time in arrival order, other chats alongside', async () => {
    const serialized = chatQueue();
    const log: string[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = serialized('a', async () => {
      log.push('a1 start');
      await gate;
      log.push('a1 end');
    });
    const second = serialized('a', async () => {
      log.push('a2');
    });
    // another chat does not wait for chat a
    await serialized('b', async () => {
      log.push('b1');
    });
    expect(log).toEqual(['a1 start', 'b1']);
    release();
    await Promise.all([first, second]);
    expect(log).toEqual(['a1 start', 'b1', 'a1 end', 'a2']);
  });

  it('a failed change does not block the next; a full queue answers 503 with Retry-After at once', async () => {
    const serialized = chatQueue();
    await expect(serialized('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await serialized('a', async () => 'next')).toBe('next');

    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waiting = Array.from({ length: 64 }, () => serialized('c', () => gate));
    const refused = await serialized('c', async () => 'never').catch((error) => error);
    expect(refused).toBeInstanceOf(Errors.UNAVAILABLE);
    expect(refused.retryAfter).toBeGreaterThan(0);
    release();
    await Promise.all(waiting);
    expect(await serialized('c', async () => 'room again')).toBe('room again');
  });
});
