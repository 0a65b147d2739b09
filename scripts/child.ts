import { type ChildProcess, type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'bin.js');

/** The real CLI as a child process: write lines to it, wait for lines from it (the demo and the tests). */
export class CliProcess {
  readonly lines: string[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private waiters: (() => void)[] = [];
  private taken = 0;
  readonly exited: Promise<number>;

  /** Every line as it comes, for a caller that shows them live. */
  onLine?: (line: string) => void;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
    const collect = (stream: NodeJS.ReadableStream, prefix: string) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        rest += chunk;
        const parts = rest.split('\n');
        rest = parts.pop() ?? '';
        for (const line of parts) {
          this.lines.push(prefix + line);
          this.onLine?.(prefix + line);
        }
        for (const w of this.waiters.splice(0)) w();
      });
    };
    collect(this.child.stdout, '');
    collect(this.child.stderr, 'ERR ');
    this.exited = new Promise((resolve) =>
      this.child.on('close', (code) => {
        for (const w of this.waiters.splice(0)) w();
        resolve(code ?? -1);
      }),
    );
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  end(): void {
    this.child.stdin.end();
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** The next line (after those already waited for) that matches. */
  async waitFor(pattern: RegExp, ms = 15_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const index = this.lines.findIndex((line, i) => i >= this.taken && pattern.test(line));
      if (index >= 0) {
        this.taken = index + 1;
        return this.lines[index];
      }
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no line matching ${pattern}; the CLI said:\n${this.lines.join('\n')}`);
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.waiters.push(resolve)),
        new Promise((resolve) => {
          timer = setTimeout(resolve, deadline - Date.now());
        }),
      ]);
      clearTimeout(timer);
    }
  }
}

/** Runs one scripted command to its end. */
export async function runCli(args: string[], env: Record<string, string>, stdin = '') {
  const cli = new CliProcess(args, env);
  cli.send(stdin);
  cli.end();
  const code = await cli.exited;
  const stdout = cli.lines.filter((l) => !l.startsWith('ERR ')).join('\n');
  const stderr = cli.lines
    .filter((l) => l.startsWith('ERR '))
    .map((l) => l.slice(4))
    .join('\n');
  return { code, stdout, stderr };
}

/**
 * Given to a server started with `endWithParent`: its standard input is a pipe from the parent,
 * which the kernel closes when the parent dies, however it dies (even `kill -9`); the server then
 * stops as on SIGTERM. Unref'd, so that it never keeps the server alive.
 */
const END_WITH_PARENT =
  'data:text/javascript,process.stdin.on("end",()=>process.kill(process.pid,"SIGTERM")).resume().unref();';

/**
 * The real server as a child process (`tsx src/main.ts`), listening on a port the OS picked.
 * `cwd` is where its default `./data` and `./keys` are; `onSpawn` gets the child at once, before
 * it listens, so that a caller ending early can stop it; with `endWithParent` it stops when this
 * process is gone.
 */
export async function startServerProcess(
  env: Record<string, string>,
  nodeArgs: string[] = [],
  {
    cwd,
    onSpawn,
    endWithParent = false,
  }: { cwd?: string; onSpawn?: (child: ChildProcess) => void; endWithParent?: boolean } = {},
): Promise<{ url: string; child: ChildProcess; log: string[] }> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const guard = endWithParent ? ['--import', END_WITH_PARENT] : [];
  // node itself runs the server (tsx as a loader, not a wrapper process), so signals reach it.
  const child = spawn(
    process.execPath,
    [...nodeArgs, ...guard, '--import', 'tsx', path.join(root, 'src/main.ts')],
    {
      cwd: cwd ?? root,
      env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', ...env },
      stdio: [endWithParent ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    },
  );
  onSpawn?.(child);
  const log: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk;
      const lines = text.split('\n');
      text = lines.pop() ?? '';
      for (const line of lines) {
        log.push(line);
        const match = /listening on (https?:\/\/[^\s"]+?) \(API docs/.exec(line);
        if (match) resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) =>
      reject(new Error(`the server exited (${code}) before listening:\n${log.join('\n')}`)),
    );
  });
  return { url, child, log };
}
