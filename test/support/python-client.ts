import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** The Python interpreter the independent client runs on (Debian's, with python3-cryptography). */
export const PYTHON = '/usr/bin/python3';
const SCRIPT = path.resolve(import.meta.dirname, '../../interop/python/securechat_client.py');

/** Why the independent client cannot run here, or null when it can. */
export function pythonMissing(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import cryptography'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} is not installed (${r.error.message})`;
  return r.status === 0
    ? null
    : `${PYTHON} lacks the cryptography package (apt-get install python3-cryptography)`;
}

export type Line = Record<string, unknown>;

/**
 * The independent Python client (interop/python) as a child process: JSON commands on its stdin,
 * one JSON line per answer and per event on its stdout. `call` resolves with a command's answer
 * (rejects when `ok` is false); `next` waits for a line the predicate accepts (seen or to come).
 */
export class PythonClient {
  readonly lines: Line[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiters: { test: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  private nextId = 1;
  private stderr = '';
  readonly exited: Promise<number | null>;

  constructor(server: string, home: string, user: string) {
    this.child = spawn(PYTHON, [SCRIPT, '--server', server, '--home', home, '--user', user], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
    });
    createInterface({ input: this.child.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as Line;
      this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (w.test(line)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.exited.then(() => {
      for (const w of this.waiters.splice(0)) w.resolve({ exited: true, stderr: this.stderr });
    });
  }

  /** Resolves with the first line (already written or to come) that `test` accepts. */
  next(test: (l: Line) => boolean, from = 0): Promise<Line> {
    const seen = this.lines.slice(from).find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  /** Runs one command; resolves with its answer, rejects with its error. */
  async call<T = Line>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    const answer = this.next((l) => l.reply === id || l.exited === true);
    this.child.stdin.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    const line = await answer;
    if (line.exited) throw new Error(`the Python client exited: ${this.stderr}`);
    if (!line.ok) throw new Error(`${cmd}: ${String(line.error)}`);
    return line as T;
  }

  /** `history`: every message of the chat as the client read it, and the chat's open warnings. */
  history(chatId: string): Promise<{ messages: Line[]; warnings: Line[] }> {
    return this.call('history', { chatId });
  }

  /** Every warning line (transcript checks) written so far. */
  warnings(): Line[] {
    return this.lines.filter((l) => 'warning' in l);
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`);
      await this.exited;
    }
  }
}

/**
 * A new user of the Python client, as a person would start: keys made on their machine, registered
 * with an administrator's one-time code (what `npm run user:invite` makes), logged in.
 */
export async function registeredPython(
  url: string,
  code: string,
  home: string,
  username: string,
  password: string,
): Promise<PythonClient> {
  const client = new PythonClient(url, home, username);
  await client.call('keygen', { rsaBits: 2048 });
  await client.call('register', { code, password });
  await client.call('login', { password });
  return client;
}
