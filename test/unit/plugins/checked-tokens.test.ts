import { describe, expect, it } from 'vitest';
import { checkedTokens } from '../../../src/plugins/auth.js';

describe('tokens taken as checked', () => {
  const session = (expiresAt: number) => ({ username: 'alice', sessionId: 'jti-1', expiresAt });

  it('are taken as checked until they expire, and no longer', () => {
    let now = 1_000_000;
    const checked = checkedTokens(() => now);
    checked.set('a.b.c', session(now + 30_000));
    expect(checked.get('a.b.c')).toEqual(session(1_030_000));
    now += 29_999;
    expect(checked.get('a.b.c')?.username).toBe('alice');
    now += 1;
    expect(checked.get('a.b.c')).toBeUndefined();
  });

  it('are checked again after a minute, even when they expire later', () => {
    let now = 0;
    const checked = checkedTokens(() => now);
    checked.set('a.b.c', session(3_600_000));
    now = 59_999;
    expect(checked.get('a.b.c')).toBeDefined();
    now = 60_000;
    expect(checked.get('a.b.c')).toBeUndefined();
  });

  it('are found by their whole text only, and hand out a copy each request may keep', () => {
    const checked = checkedTokens(() => 0);
    checked.set('a.b.c', session(10_000));
    expect(checked.get('a.b.d')).toBeUndefined();
    expect(checked.get('a.b')).toBeUndefined();
    const one = checked.get('a.b.c') as ReturnType<typeof session>;
    one.username = 'mallory';
    expect(checked.get('a.b.c')?.username).toBe('alice');
  });
});
