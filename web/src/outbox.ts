import { ApiError, randomId, type SignatureAlgorithm } from '../../src/client/index.js';
import { reason } from './dom.js';
import type { WebSession } from './session.js';

/** A message written and not yet taken by the server, with the id it keeps until it is. */
export interface Unsent {
  id: string;
  chatId: string;
  text: string;
  alg: SignatureAlgorithm;
}

/** What a person reads when the server is away: what happened and what the page does about it. */
export const AWAY_TEXT =
  'The server cannot be reached — your message is kept and will be sent when it is back.';

/** Whether a failure means the server was not reached (the message may be sent again as it is). */
export function unreachable(error: unknown): boolean {
  // fetch rejects with a TypeError ("Failed to fetch") when there is no answer at all
  if (error instanceof TypeError && /fetch|network|load failed/i.test(error.message)) return true;
  return error instanceof ApiError && [502, 503, 504].includes(error.status);
}

/**
 * The messages written while the server was away, sent in the order written when it is back (the
 * stream connected again, or the next Send). Each keeps its id across tries: a try whose answer
 * was lost but whose message arrived is answered 409 `DUPLICATE_MESSAGE`, and counts as sent.
 * Kept in memory only: a reload drops them (their text is never written to storage).
 */
export class Outbox {
  readonly waiting: Unsent[] = [];
  /** Why the waiting messages wait, while they do. */
  problem?: string;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly session: WebSession) {
    session.on((event) => {
      if (event.type === 'status' && event.state === 'connected' && this.waiting.length)
        this.flush().catch((error) =>
          session.emit({
            type: 'notice',
            warning: true,
            text: `a message waiting was refused: ${reason(error)}`,
          }),
        );
    });
  }

  /** Queues a message and sends what waits; resolves once this one is sent, or kept for later. */
  add(chatId: string, text: string, alg: SignatureAlgorithm): Promise<void> {
    this.waiting.push({ id: randomId(), chatId, text, alg });
    this.changed();
    return this.flush();
  }

  /**
   * Sends the waiting messages in order, one at a time. Stops at the first the server did not
   * take for being away (it and the rest wait); one refused for another reason leaves the queue,
   * and the refusal is thrown (the rest are still sent).
   */
  flush(): Promise<void> {
    const run = this.running.then(() => this.sendAll());
    this.running = run.catch(() => undefined);
    return run;
  }

  private async sendAll(): Promise<void> {
    let refused: unknown;
    while (this.waiting.length) {
      const next = this.waiting[0];
      try {
        await this.session.client.send(next.chatId, next.text, next.alg, next.id);
      } catch (error) {
        if (unreachable(error)) {
          this.problem = AWAY_TEXT;
          this.changed();
          return;
        }
        // a copy of it arrived before (its answer was lost): sent
        if (!(error instanceof ApiError && error.code === 'DUPLICATE_MESSAGE')) refused ??= error;
      }
      this.waiting.shift();
      this.problem = undefined;
      this.changed();
    }
    if (refused !== undefined) throw refused instanceof Error ? refused : new Error(reason(refused));
  }

  private changed(): void {
    this.session.emit({ type: 'outbox' });
  }
}
