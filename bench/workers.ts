/** Load processes (bench/worker.ts) driven over IPC by the benchmarks. */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

type Msg = Record<string, unknown> & { op: string };
export class Worker {
  readonly child: ChildProcess;
  private queue: Msg[] = [];
  private waiters: ((m: Msg) => void)[] = [];
  /** Rejects once the worker process is gone: a bench waiting on a dead worker fails, not hangs. */
  private readonly gone: Promise<never>;
  constructor() {
    this.child = fork(path.join(here, 'worker.ts'), [], {
      execArgv: ['--import', 'tsx'],
      cwd: path.dirname(here),
      stdio: 'inherit',
    });
    this.gone = new Promise<never>((_, reject) => {
      // 'close', not 'exit': by then every message it sent has been read
      this.child.once('close', (code, signal) =>
        reject(new Error(`bench worker exited (${code ?? signal})`)),
      );
    });
    this.gone.catch(() => {});
    this.child.on('message', (m: Msg) => {
      if (m.op === 'error') console.error(`[worker] ${m.message}`);
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
  }
  next(op: string): Promise<Msg> {
    const i = this.queue.findIndex((m) => m.op === op);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    const gone = this.gone.catch((error: Error) => {
      throw new Error(`${error.message} while the bench waited for its '${op}'`);
    });
    return Promise.race([gone, this.nextMessage(op)]);
  }
  private nextMessage(op: string): Promise<Msg> {
    return new Promise((resolve) => {
      const wait = (m: Msg) => {
        if (m.op === op) resolve(m);
        else {
          this.queue.push(m);
          this.waiters.push(wait);
        }
      };
      this.waiters.push(wait);
    });
  }
  send(m: Msg): void {
    this.child.send(m);
  }
  stop(): void {
    this.child.kill('SIGKILL');
  }
}
export async function worker(): Promise<Worker> {
  const w = new Worker();
  await w.next('ready');
  return w;
}
