import type { ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { StreamCut } from '../util/metrics.js';
import { type JoinParts, sharedTurn, type TurnWriter } from './turn.js';

export interface StreamOwner {
  username: string;
  sessionId: string;
  /** When the token expires (ms since the epoch): the stream ends then. */
  expiresAt: number;
}

export interface OutgoingEvent {
  type: string;
  data: string;
  id?: number;
}

export interface ConnectionLimits {
  /** Bytes the stream may hold back (queued in the socket, or pending behind a replay). */
  bufferBytes: number;
  /** How long a replay waits for the reader to make room before the stream is cut. */
  drainMs: number;
}

/**
 * An event as it goes on the wire, framed and encoded once for every stream it is written to:
 * each stream is handed the same bytes (no stream serializes or encodes it again).
 */
export interface Framed {
  id?: number;
  chunk: string;
  /** The chunk in UTF-8. */
  encoded: Buffer;
  /** Its length in bytes. */
  bytes: number;
}

export const framed = (id: number | undefined, chunk: string): Framed => {
  const encoded = Buffer.from(chunk);
  return { id, chunk, encoded, bytes: encoded.length };
};

export const frame = (event: OutgoingEvent): Framed =>
  framed(
    event.id,
    event.id === undefined
      ? `event: ${event.type}\ndata: ${event.data}\n\n`
      : `id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`,
  );

/**
 * Closes a connection with a TCP reset. Under TLS the TCP socket is the TLS socket's `_parent`
 * (Node's own field); without one to reset, it is destroyed as usual.
 */
function reset(socket: Socket | null): void {
  if (!socket || socket.destroyed) return;
  const parent = (socket as Socket & { _parent?: unknown })._parent;
  const tcp = parent instanceof Socket ? parent : socket;
  try {
    if (!tcp.destroyed) tcp.resetAndDestroy();
  } catch {
    // not a TCP handle: the destroy below still ends it
  }
  socket.destroy();
}

/**
 * One open `text/event-stream` response. Writes never wait: when the client reads too slowly and
 * more than `bufferBytes` pile up (in the socket, behind a replay, or waiting for the end of the
 * turn), the connection is cut and the client resumes with Last-Event-ID. What is written to a
 * live stream within one turn of the event loop leaves in one write when the turn ends
 * (`turn.ts`), in the order it was written; a replay writes at once, at the reader's pace.
 */
export class SseConnection {
  lastId = 0;
  lastWrite = Date.now();
  /** Live events held back while the replay is being written, and their size on the wire. */
  pending: Framed[] | null = [];
  pendingBytes = 0;
  closed = false;
  /** The last of the hub's coalesced presence parts this stream was written (or was opened after). */
  presenceGeneration = 0;

  constructor(
    readonly owner: StreamOwner,
    private readonly res: ServerResponse,
    private readonly limits: ConnectionLimits,
    private readonly onCut: (connection: SseConnection, reason: StreamCut) => void,
    private readonly turnWriter: TurnWriter = sharedTurn,
  ) {}

  /** True while a replay writes at the reader's pace instead of being cut for it. */
  private pacing = false;
  private corked = false;
  /** What waits for the end of this turn, in order, and its size; null when nothing does. */
  private turn: Buffer[] | null = null;
  private turnBytes = 0;

  /** Bytes this stream holds in memory: written but not yet taken by the socket, pending, and this turn's. */
  get queuedBytes(): number {
    if (this.closed) return 0;
    return this.res.writableLength + this.pendingBytes + this.turnBytes;
  }

  /**
   * Drops a reader that fell behind with a TCP reset, at once: a graceful end would wait in the
   * kernel behind megabytes the reader has not taken (and for as long as it takes none), while a
   * reset discards them and reaches the client whether it reads or not. It resumes with Last-Event-ID.
   */
  private cut(reason: StreamCut): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = null;
    this.pendingBytes = 0;
    this.turn = null;
    this.turnBytes = 0;
    reset(this.res.socket);
    this.res.destroy();
    this.onCut(this, reason);
  }

  private write(chunk: Buffer): void {
    if (this.closed) return;
    if (this.pacing) {
      this.writeNow(chunk);
      return;
    }
    // A slow reader is one that had more than the buffer queued already: one chunk larger than
    // what is free does not cut a reader that keeps up.
    if (this.queuedBytes > this.limits.bufferBytes) {
      this.cut('slow_reader');
      return;
    }
    if (this.turn === null) {
      this.turn = [chunk];
      this.turnWriter.mark(this);
    } else {
      this.turn.push(chunk);
    }
    this.turnBytes += chunk.length;
  }

  /** Writes what waited for the end of the turn, in one chunk (the turn writer calls this). */
  flushTurn(
    now: number,
    join: JoinParts = (parts) => (parts.length === 1 ? parts[0] : Buffer.concat(parts)),
  ): void {
    const turn = this.turn;
    if (turn === null) return;
    this.turn = null;
    this.turnBytes = 0;
    if (this.closed) return;
    this.res.write(join(turn));
    this.lastWrite = now;
  }

  /** Writes at once (a replay, or before the stream ends), after what waited for the end of the turn. */
  private writeNow(chunk: Buffer): void {
    // Everything written within one tick leaves in one chunk (one syscall), not one per event.
    if (!this.corked) {
      this.corked = true;
      this.res.cork();
      process.nextTick(() => {
        this.corked = false;
        this.res.uncork();
      });
    }
    this.flushTurn(Date.now());
    this.res.write(chunk);
    this.lastWrite = Date.now();
  }

  /** Sends now, or queues while a replay is in progress (within the same byte budget). */
  deliver(event: Framed): void {
    if (this.closed) return;
    if (!this.pending) {
      this.sendFramed(event);
      return;
    }
    this.pending.push(event);
    this.pendingBytes += event.bytes;
    if (this.queuedBytes > this.limits.bufferBytes) this.cut('buffer');
  }

  send(event: OutgoingEvent): void {
    this.sendFramed(frame(event));
  }

  private sendFramed({ id, encoded }: Framed): void {
    if (id !== undefined) {
      if (id <= this.lastId) return; // already sent by the replay
      this.lastId = id;
    }
    this.write(encoded);
  }

  /**
   * Writes a replayed event, then waits for the reader when half the buffer is queued; a reader
   * that makes no room within `drainMs` is cut (it resumes with Last-Event-ID).
   */
  async sendPaced(event: OutgoingEvent): Promise<void> {
    this.pacing = true;
    try {
      this.send(event);
      if (!this.closed && this.res.writableLength > this.limits.bufferBytes / 2) {
        const drained = await new Promise<boolean>((resolve) => {
          const done = (ok: boolean) => () => {
            clearTimeout(timer);
            this.res.off('drain', onDrain);
            this.res.off('close', onClose);
            resolve(ok);
          };
          const onDrain = done(true);
          const onClose = done(true);
          const timer = setTimeout(done(false), this.limits.drainMs);
          this.res.on('drain', onDrain);
          this.res.on('close', onClose);
        });
        if (!drained) this.cut('drain_deadline');
      }
    } finally {
      this.pacing = false;
    }
  }

  /** Ends the replay phase: what arrived meanwhile goes out in order, then events flow live. */
  goLive(): void {
    const pending = this.pending ?? [];
    this.pending = null;
    this.pendingBytes = 0;
    for (const event of pending) this.sendFramed(event);
  }

  comment(text: string): void {
    this.write(Buffer.from(`: ${text}\n\n`));
  }

  /** Ends the stream; with `retryMs`, first tells an EventSource when to reconnect (shutdown). */
  close(retryMs?: number): void {
    if (this.closed) return;
    // what this turn wrote goes out before the end, as it would have had the turn ended
    this.flushTurn(Date.now());
    if (retryMs !== undefined) this.res.write(`retry: ${retryMs}\n\n`);
    this.closed = true;
    this.pending = null;
    this.pendingBytes = 0;
    // End the chunked body cleanly, then drop the socket: once ended, the response lets go of it and
    // it would linger as an idle keep-alive connection, holding up the server's close.
    const socket = this.res.socket;
    this.res.end();
    socket?.destroy();
  }
}
