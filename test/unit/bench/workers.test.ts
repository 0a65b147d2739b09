import { describe, expect, it } from 'vitest';
import { worker } from '../../../bench/workers.js';

describe('bench load workers', () => {
  it('a worker that dies while the bench waits on it fails the wait instead of hanging it', async () => {
    const w = await worker();
    const waiting = w.next('sent');
    w.child.kill('SIGKILL');
    await expect(waiting).rejects.toThrow(
      "bench worker exited (SIGKILL) while the bench waited for its 'sent'",
    );
  });

  it('a worker told to exit leaves with code 0 and no report pending', async () => {
    const w = await worker();
    const closed = new Promise((resolve) => w.child.once('close', resolve));
    w.send({ op: 'exit' });
    expect(await closed).toBe(0);
    await expect(w.next('listened')).rejects.toThrow('bench worker exited (0)');
  });
});
