import { describe, expect, it } from 'vitest';
import { nestedDeeperThan } from '../../../src/util/json-depth.js';

describe('the nesting scan that runs before JSON.parse', () => {
  it('counts arrays and objects opened inside each other, not brackets inside strings', () => {
    expect(nestedDeeperThan('{"a":[{"b":[]}]}', 4)).toBe(false);
    expect(nestedDeeperThan('{"a":[{"b":[]}]}', 3)).toBe(true);
    expect(nestedDeeperThan('[[],[],[],[]]', 2)).toBe(false);
    expect(nestedDeeperThan(`["${'['.repeat(100)}"]`, 2)).toBe(false);
    // an escaped quote does not end the string, an escaped backslash does not escape the quote
    expect(nestedDeeperThan(`["\\"${'{'.repeat(10)}"]`, 2)).toBe(false);
    expect(nestedDeeperThan(`["\\\\"${'['.repeat(10)}`, 2)).toBe(true);
    expect(nestedDeeperThan(`${'['.repeat(500_000)}${']'.repeat(500_000)}`, 32)).toBe(true);
  });
});
