import type readline from 'node:readline';

/**
 * Lines of standard input, queued from the start so that none is lost between reading the
 * password line and handing the rest to the menu.
 */
export class LineQueue {
  private readonly buffer: string[] = [];
  private waiter?: (line: string | undefined) => void;
  private handler?: (line: string) => void;
  private onEnd?: () => void;
  closed = false;

  constructor(readonly rl: readline.Interface) {
    rl.on('line', (line) => this.push(line));
    rl.on('close', () => {
      this.closed = true;
      this.waiter?.(undefined);
      this.waiter = undefined;
      if (this.handler) this.onEnd?.();
    });
  }

  private push(line: string): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(line);
    } else if (this.handler) this.handler(line);
    else this.buffer.push(line);
  }

  /** The next line, or undefined at the end of input. */
  next(): Promise<string | undefined> {
    const line = this.buffer.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** From now on every line (those already queued first) goes to `handler`; `onEnd` at the end. */
  take(handler: (line: string) => void, onEnd: () => void): void {
    this.handler = handler;
    this.onEnd = onEnd;
    for (const line of this.buffer.splice(0)) handler(line);
    if (this.closed) onEnd();
  }
}
