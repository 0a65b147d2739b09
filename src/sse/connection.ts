import type { ServerResponse } from 'node:http';

export interface StreamOwner {
  username: string;
  sessionId: string;
}

export interface OutgoingEvent {
  type: string;
  data: string;
  id?: number;
}

/**
 * One open `text/event-stream` response. Writes never wait: when the client reads too slowly and
 * more than `bufferBytes` pile up, the connection is cut and the client resumes with Last-Event-ID.
 */
export class SseConnection {
  lastId = 0;
  lastWrite = Date.now();
  /** Live events held back while the replay is being written. */
  pending: OutgoingEvent[] | null = [];
  closed = false;

  constructor(
    readonly owner: StreamOwner,
    private readonly res: ServerResponse,
    private readonly bufferBytes: number,
    private readonly onSlow: (connection: SseConnection) => void,
  ) {}

  /** True while a replay writes at the reader's pace instead of being cut for it. */
  private pacing = false;

  private write(chunk: string): void {
    if (this.closed) return;
    this.res.write(chunk);
    this.lastWrite = Date.now();
    if (!this.pacing && this.res.writableLength > this.bufferBytes) {
      this.onSlow(this);
      this.close();
    }
  }

  /** Sends now, or queues while a replay is in progress. */
  deliver(event: OutgoingEvent): void {
    if (this.pending) this.pending.push(event);
    else this.send(event);
  }

  send(event: OutgoingEvent): void {
    if (event.id !== undefined) {
      if (event.id <= this.lastId) return; // already sent by the replay
      this.lastId = event.id;
      this.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${event.data}\n\n`);
    } else {
      this.write(`event: ${event.type}\ndata: ${event.data}\n\n`);
    }
  }

  /** Writes a replayed event, then waits for the reader when half the buffer is queued. */
  async sendPaced(event: OutgoingEvent): Promise<void> {
    this.pacing = true;
    try {
      this.send(event);
      if (!this.closed && this.res.writableLength > this.bufferBytes / 2) {
        await new Promise<void>((resolve) => {
          const done = () => {
            this.res.off('drain', done);
            this.res.off('close', done);
            resolve();
          };
          this.res.on('drain', done);
          this.res.on('close', done);
        });
      }
    } finally {
      this.pacing = false;
    }
  }

  /** Ends the replay phase: what arrived meanwhile goes out in order, then events flow live. */
  goLive(): void {
    const pending = this.pending ?? [];
    this.pending = null;
    for (const event of pending) this.send(event);
  }

  comment(text: string): void {
    this.write(`: ${text}\n\n`);
  }

  /** Ends the stream; with `retryMs`, first tells an EventSource when to reconnect (shutdown). */
  close(retryMs?: number): void {
    if (this.closed) return;
    if (retryMs !== undefined) this.res.write(`retry: ${retryMs}\n\n`);
    this.closed = true;
    // End the chunked body cleanly, then drop the socket: once ended, the response lets go of it and
    // it would linger as an idle keep-alive connection, holding up the server's close.
    const socket = this.res.socket;
    this.res.end();
    socket?.destroy();
  }
}
