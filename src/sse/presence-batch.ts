import { type Framed, frame, framed, type OutgoingEvent, type SseConnection } from './connection.js';

/**
 * Presence changes within one window go to each stream in one write. The window grows with the
 * streams held (a millisecond per STREAMS_PER_WINDOW_MS of them, from 100 ms up to 1 s), so that
 * presence costs at most about 10 writes per millisecond however many streams there are.
 */
const PRESENCE_WINDOW_MS = { min: 100, max: 1000 };
const STREAMS_PER_WINDOW_MS = 10;
/** Streams written to per turn of the event loop when a window's changes go out. */
const FLUSH_SLICE = 500;

export interface PresenceBatchOptions {
  /** The streams a window's changes go to. */
  streams: ReadonlySet<SseConnection>;
  /** A stream's buffer: a window flushes early once a quarter of it is gathered. */
  bufferBytes: number;
}

/**
 * Broadcasts without an id (presence) are gathered for one window, then written once per stream,
 * FLUSH_SLICE streams per turn of the event loop so that no turn writes to every stream. What was
 * gathered is sealed as a numbered part when an event must follow it, or when the window ends. A
 * stream is written the parts it has not had (in one chunk) right before any other event to it,
 * and at the end of the window: presence gathered before an event comes before it on every
 * stream, and an event costs only its own recipients.
 */
export function createPresenceBatch({ streams, bufferBytes }: PresenceBatchOptions) {
  let gathering = '';
  /** Bytes gathered or sealed since the last flush began: a flush starts early at a quarter of the buffer. */
  let unflushedBytes = 0;
  let batchTimer: NodeJS.Timeout | undefined;
  let flushSoon: NodeJS.Immediate | undefined;
  let generation = 0;
  /** Sealed parts not yet written to every stream, oldest first. */
  let sealed: { generation: number; chunk: string }[] = [];
  /** The chunk of parts (from, to], framed once however many streams it goes to. */
  const chunks = new Map<string, Framed>();
  let flushing: { targets: SseConnection[]; next: number; upTo: number } | undefined;
  function seal(): void {
    if (gathering === '') return;
    sealed.push({ generation: ++generation, chunk: gathering });
    gathering = '';
  }
  /** Writes to `connection` the sealed parts it has not had, up to `upTo`. */
  function catchUp(connection: SseConnection, upTo = generation): void {
    const from = connection.presenceGeneration;
    if (from >= upTo) return;
    connection.presenceGeneration = upTo;
    const key = `${from}:${upTo}`;
    let chunk = chunks.get(key);
    if (!chunk) {
      let text = '';
      for (const part of sealed) if (part.generation > from && part.generation <= upTo) text += part.chunk;
      chunk = framed(undefined, text);
      chunks.set(key, chunk);
    }
    if (chunk.bytes > 0) connection.deliver(chunk);
  }
  function startFlush(): void {
    clearTimeout(batchTimer);
    batchTimer = undefined;
    seal();
    unflushedBytes = 0;
    if (sealed.length === 0) return;
    const f = { targets: [...streams], next: 0, upTo: generation };
    flushing = f;
    flushSlice(f);
  }
  function flushSlice(f: NonNullable<typeof flushing>): void {
    if (flushing !== f) return; // a later flush took over, up to more
    const end = Math.min(f.next + FLUSH_SLICE, f.targets.length);
    for (let i = f.next; i < end; i++) catchUp(f.targets[i], f.upTo);
    f.next = end;
    if (end < f.targets.length) {
      setImmediate(() => flushSlice(f));
      return;
    }
    flushing = undefined;
    // every stream has had these now (streams opened since start after them)
    sealed = sealed.filter((part) => part.generation > f.upTo);
    chunks.clear();
  }

  return {
    /** A stream opened now starts after the parts sealed so far. */
    opened(connection: SseConnection): void {
      connection.presenceGeneration = generation;
    },

    /** Gathers a broadcast without an id into this window. */
    gather(event: OutgoingEvent): void {
      const { chunk, bytes } = frame(event);
      gathering += chunk;
      unflushedBytes += bytes;
      // A window's parts stay well within a stream's buffer, however much changes at once: at a
      // quarter of it, they go out after this turn (when the sockets can take them).
      if (unflushedBytes >= bufferBytes / 4) {
        flushSoon ??= setImmediate(() => {
          flushSoon = undefined;
          startFlush();
        });
        return;
      }
      const { min, max } = PRESENCE_WINDOW_MS;
      batchTimer ??= setTimeout(
        startFlush,
        Math.min(max, Math.max(min, streams.size / STREAMS_PER_WINDOW_MS)),
      );
    },

    /** Seals what was gathered, so that it goes out before the event that follows. */
    seal,

    /** Writes to `connection` the sealed parts it has not had. */
    catchUp(connection: SseConnection): void {
      catchUp(connection);
    },

    /** Drops what is gathered and stops the timers (shutdown). */
    stop(): void {
      clearTimeout(batchTimer);
      if (flushSoon) clearImmediate(flushSoon);
      flushing = undefined;
      sealed = [];
      chunks.clear();
    },
  };
}
