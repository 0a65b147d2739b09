/**
 * Writes that wait for the end of this turn of the event loop. The events that reach a stream
 * within one turn (the posts whose I/O came together, a commit's batch) go out in one write per
 * stream, after the turn's I/O (`setImmediate`): one Buffer, one chunk of the response, one
 * syscall, however many events; and one timer for every stream written, not one per stream.
 */
export interface TurnWriter {
  /** Something to write when this turn ends: `flush` is called once, with the time then. */
  mark(target: { flushTurn(now: number): void }): void;
}

export function createTurnWriter(): TurnWriter {
  let marked: { flushTurn(now: number): void }[] = [];
  let scheduled = false;
  function flush(): void {
    scheduled = false;
    const targets = marked;
    marked = [];
    const now = Date.now();
    for (const target of targets) target.flushTurn(now);
  }
  return {
    mark(target) {
      marked.push(target);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
  };
}

/** The one every stream of this process uses unless given its own (tests). */
export const sharedTurn = createTurnWriter();
