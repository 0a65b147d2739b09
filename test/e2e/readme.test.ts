import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess } from '../../scripts/child.js';
import { envelopeSigningInput, messageAad, messageSigningInput } from '../../src/crypto/canonical.js';
import { BACKEND } from '../support/backend.js';

/**
 * Every `sh` block of the README runs as written, in order, against a real server (`npm start`'s
 * command, port 0) in a temp folder that looks like a fresh clone: the repository's files linked
 * in, its own empty `data/` and `keys/`, its own HOME. A block preceded by
 * `<!-- readme-test: skip (why) -->` is not run (it is interactive, or runs until Ctrl-C).
 * The one change made to the commands: the README's `127.0.0.1:8080` becomes the server's
 * address (and `SECURECHAT_SERVER` says it), since port 8080 may be taken on a shared machine.
 */
const SKIP = /^<!-- readme-test: skip \(.+\) -->$/;

interface Block {
  line: number;
  code: string;
}

function runnableBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README.md:${i + 1}: the block never ends`);
    if (!SKIP.test(lines[i - 1] ?? ''))
      blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** One bash script of the blocks, in order, that names the block that failed. */
function script(blocks: Block[], address: string): string {
  return [
    'set -eo pipefail',
    ...blocks.map(
      (b) =>
        `trap 'echo "readme-test: the block at README.md:${b.line} failed" >&2' ERR\n` +
        b.code.replaceAll('127.0.0.1:8080', address).replaceAll('localhost:8080', address),
    ),
  ].join('\n');
}

function bash(text: string, cwd: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn('bash', ['-c', text], { cwd, env: { ...process.env, ...env }, stdio: 'pipe' });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('links', () => {
  it('from README.md and docs/ lead to files in the repository', async () => {
    const broken: string[] = [];
    for (const file of ['README.md', 'docs/protocol.md']) {
      const text = await readFile(path.resolve(file), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // http(s), mailto
        const resolved = path.resolve(path.dirname(file), target);
        if (!resolved.startsWith(path.resolve('.') + path.sep) || !existsSync(resolved))
          broken.push(`${file}: ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('name only files and folders of the repository (README.md, ARCHITECTURE.md, docs/)', async () => {
    const missing: string[] = [];
    for (const file of ['README.md', 'ARCHITECTURE.md', 'docs/protocol.md']) {
      const text = await readFile(path.resolve(file), 'utf8');
      // `test/e2e/fuzz.test.ts`, `src/sse/`: paths in code spans, from the repository's top folders
      for (const [, named] of text.matchAll(/`((?:src|test|cli|bench|scripts|docs)\/[\w./-]*)`/g)) {
        if (named.startsWith('bench/results/')) continue; // what `npm run bench` writes
        if (!existsSync(path.resolve(named))) missing.push(`${file}: ${named}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('docs/protocol.md', () => {
  it('states the canonical strings the code builds', async () => {
    const doc = await readFile(path.resolve('docs/protocol.md'), 'utf8');
    const template = (name: string) => {
      const row = doc.split('\n').find((line) => line.startsWith(`| ${name} |`));
      return /`([^`]+)` \|$/.exec(row ?? '')?.[1] ?? `no row "${name}"`;
    };
    const fill = (text: string, values: Record<string, string>) =>
      text.replaceAll('\\n', '\n').replace(/\{(\w+)\}/g, (_, field: string) => values[field] ?? `{${field}}`);
    const envelope = { chatId: 'c', epoch: 3, recipient: 'r', wrappedKey: 'w', issuedAt: 't' };
    expect(fill(template('key envelope, signed by the server'), { ...envelope, epoch: '3' })).toBe(
      envelopeSigningInput(envelope).toString('utf8'),
    );
    const header = { chatId: 'c', epoch: 3, sender: 's', id: 'i', sentAt: 't' };
    const aad = messageAad(header);
    expect(fill(template('message AAD (AES-GCM associated data)'), { ...header, epoch: '3' })).toBe(aad);
    expect(
      fill(template('message, signed by the sender'), { AAD: aad, iv: 'v', ciphertext: 'x', tag: 'g' }),
    ).toBe(messageSigningInput(header, { iv: 'v', ciphertext: 'x', tag: 'g' }).toString('utf8'));
  });
});

describe('the runner', () => {
  it('fails, naming the block, when a command fails', async () => {
    const blocks = runnableBlocks(
      [
        '```sh',
        'echo one',
        '```',
        '<!-- readme-test: skip (why) -->',
        '```sh',
        'false',
        '```',
        '```sh',
        'true | false',
        'echo after',
        '```',
      ].join('\n'),
    );
    expect(blocks.map((b) => b.line)).toEqual([1, 8]);
    const run = await bash(script(blocks, 'x'), tmpdir(), {});
    expect(run.code).not.toBe(0);
    expect(run.output).toContain('one');
    expect(run.output).toContain('the block at README.md:8 failed');
    expect(run.output).not.toContain('after');
  });
});

// One run is enough: the README's commands use the default store (SQLite).
describe.skipIf(BACKEND !== 'sqlite')('README.md', () => {
  const root = path.resolve('.');
  let dir: string;
  let server: Awaited<ReturnType<typeof startServerProcess>> | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'securechat-readme-'));
    for (const name of await readdir(root)) {
      if (!['data', 'keys', '.git'].includes(name))
        await symlink(path.join(root, name), path.join(dir, name));
    }
    await mkdir(path.join(dir, 'keys'));
    await mkdir(path.join(dir, 'home'));
    await mkdir(path.join(dir, 'tmp'));
    server = await startServerProcess({ HOME: path.join(dir, 'home') }, [], { cwd: dir });
  }, 120_000);

  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      const exited = new Promise((resolve) => server?.child.once('exit', resolve));
      server.child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every command block that is not marked interactive, in order', async () => {
    const blocks = runnableBlocks(await readFile(path.join(root, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    const address = new URL(server?.url ?? '').host;
    const run = await bash(script(blocks, address), dir, {
      HOME: path.join(dir, 'home'),
      TMPDIR: path.join(dir, 'tmp'), // what the blocks make with mktemp goes too, even when one fails
      XDG_DATA_HOME: path.join(dir, 'home', '.local', 'share'),
      SECURECHAT_SERVER: `http://${address}`,
    });
    expect(run.code, run.output).toBe(0);
    expect(run.output).not.toContain('readme-test: the block');
    // the walkthrough's openssl check of serverSignature
    expect(run.output).toContain('Verified OK');
  }, 180_000);
});
