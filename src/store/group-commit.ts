/** What one call in a batch came to: its result, or the error it alone ends with. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

/**
 * Group commit: calls that arrive while a batch is being written wait and go into the next batch,
 * written in one transaction (in the order they came), so that a burst costs one commit, not one
 * each. The first call waits one turn of the event loop for the calls that arrive with it. `write`
 * settles each input on its own (one failing check fails only that call); if it throws, every call
 * of the batch fails with that error.
 */
export function groupCommit<I, O>(write: (inputs: I[]) => Promise<Settled<O>[]>, maxBatch: number) {
  const queue: { input: I; resolve: (value: O) => void; reject: (error: unknown) => void }[] = [];
  let running = false;

  async function drain(): Promise<void> {
    running = true;
    try {
      await new Promise((resolve) => setImmediate(resolve));
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch);
        let settled: Settled<O>[];
        try {
          settled = await write(batch.map((b) => b.input));
        } catch (error) {
          for (const b of batch) b.reject(error);
          continue;
        }
        batch.forEach((b, i) => {
          const s = settled[i];
          if (s.ok) b.resolve(s.value);
          else b.reject(s.error);
        });
      }
    } finally {
      running = false;
    }
  }

  return (input: I): Promise<O> =>
    new Promise<O>((resolve, reject) => {
      queue.push({ input, resolve, reject });
      if (!running) void drain();
    });
}
