import { describe, expect, it } from 'vitest';
import { groupCommit, type Settled } from '../../../src/store/group-commit.js';

/** A writer that records its batches and holds each until released. */
function recorder() {
  const batches: number[][] = [];
  const waiting: (() => void)[] = [];
  const write = async (inputs: number[]): Promise<Settled<number>[]> => {
    batches.push(inputs);
    await new Promise<void>((resolve) => waiting.push(resolve));
    return inputs.map((n) =>
      n < 0 ? { ok: false, error: new Error(`refused ${n}`) } : { ok: true, value: n * 10 },
    );
  };
  const released = async () => {
    while (waiting.length === 0) await new Promise((resolve) => setImmediate(resolve));
    waiting.shift()?.();
  };
  return { batches, write, released };
}

describe('group commit', () => {
  it('writes the calls of one turn together, and those that come during a write in the next batch', async () => {
    const { batches, write, released } = recorder();
    const submit = groupCommit(write, 100);
    const first = [1, 2, -3, 4].map((n) => submit(n).catch((error: Error) => error.message));
    const whileWriting = new Promise<Promise<number | string>[]>((resolve) =>
      setImmediate(() => resolve([5, 6].map((n) => submit(n).catch((error: Error) => error.message)))),
    );
    const later = await whileWriting;
    await released();
    expect(await Promise.all(first)).toEqual([10, 20, 'refused -3', 40]);
    await released();
    expect(await Promise.all(later)).toEqual([50, 60]);
    expect(batches).toEqual([
      [1, 2, -3, 4],
      [5, 6],
    ]);
  });

  it('fails every call of a batch whose write throws, and goes on with the next', async () => {
    let calls = 0;
    const submit = groupCommit(async (inputs: number[]): Promise<Settled<number>[]> => {
      calls += 1;
      if (calls === 1) throw new Error('database gone');
      return inputs.map((value) => ({ ok: true, value }));
    }, 2);
    // a batch holds at most 2: the third call goes into a second write
    const results = await Promise.allSettled([submit(1), submit(2), submit(3)]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      'database gone',
      'database gone',
      3,
    ]);
  });
});
