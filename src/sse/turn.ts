/**
 * Writes that wait for the end of this turn of the event loop. The events that reach a stream
 * within one turn (the posts whose I/O came together, a commit's batch) go out in one write per
 * stream, after the turn's I/O (`setImmediate`): one Buffer, one chunk of the response, one
 * syscall, however many events; and one timer for every stream written, not one per stream.
 * Streams that got the same events in the same order (a chat's members) share one copy of them
 * joined: a turn's events are copied once per distinct sequence, not once per stream.
 */
export interface TurnWriter {
  /** Something to write when this turn ends: `flush` is called once, with the time then. */
  mark(target: { flushTurn(now: number, join: JoinParts): void }): void;
}

/** The parts as one Buffer (the same one for the same parts, in the same order, within a flush). */
export type JoinParts = (parts: Buffer[]) => Buffer;

/** Buffer.concat, shared: parts already joined in this flush (the very same Buffers) are not copied again. */
export function sharedJoin(): JoinParts {
  const joined = new Map<Buffer, { parts: Buffer[]; whole: Buffer }[]>();
  const same = (a: Buffer[], b: Buffer[]) => a.length === b.length && a.every((part, i) => part === b[i]);
  return (parts) => {
    if (parts.length === 1) return parts[0];
    const candidates = joined.get(parts[0]);
    const hit = candidates?.find((c) => same(c.parts, parts));
    if (hit) return hit.whole;
    const whole = Buffer.concat(parts);
    if (candidates) candidates.push({ parts, whole });
    else joined.set(parts[0], [{ parts, whole }]);
    return whole;
  };
}

export function createTurnWriter(): TurnWriter {
  let marked: { flushTurn(now: number, join: JoinParts): void }[] = [];
  let scheduled = false;
  function flush(): void {
    scheduled = false;
    const targets = marked;
    marked = [];
    const now = Date.now();
    const join = sharedJoin();
    for (const target of targets) target.flushTurn(now, join);
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
