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
 * The README is the front door; the pages it leads to (every `docs/*.md`, `bench/README.md`,
 * `ARCHITECTURE.md`) hold the rest. In all of them, links lead to files (and headings) that exist
 * and code spans name paths that exist; the README links to every one of them and stays short;
 * measured figures live in `bench/README.md` only.
 *
 * Every `sh` block of those pages runs as written, each page's in order in one bash, page after
 * page, against one real server (`npm start`'s command, port 0) in a temp folder that looks like a
 * fresh clone: the repository's files linked in, its own empty `data/` and `keys/`, its own HOME.
 * A block preceded by `<!-- readme-test: skip (why) -->` is not run (interactive, or runs until
 * Ctrl-C). The one change to the commands: `127.0.0.1:8080` becomes the server's address (and
 * `SECURECHAT_SERVER` says it), since port 8080 may be taken on a shared machine.
 */
const SKIP = /^<!-- readme-test: skip \(.+\) -->$/;
const README_MAX_LINES = 250;

/** README.md first, then the pages it leads to, in a fixed order. */
async function documents(): Promise<string[]> {
  const docs = (await readdir(path.resolve('docs'))).filter((name) => name.endsWith('.md')).sort();
  return ['README.md', ...docs.map((name) => `docs/${name}`), 'bench/README.md', 'ARCHITECTURE.md'];
}

type Block = { line: number; code: string };

function runnableBlocks(markdown: string, file: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`${file}:${i + 1}: the block never ends`);
    if (!SKIP.test(lines[i - 1] ?? ''))
      blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** One bash script of a page's blocks, in order, that names the block that failed. */
function script(blocks: Block[], address: string, file: string): string {
  return [
    'set -eo pipefail',
    ...blocks.map(
      (b) =>
        `trap 'echo "readme-test: the block at ${file}:${b.line} failed" >&2' ERR\n` +
        b.code.replaceAll('127.0.0.1:8080', address).replaceAll('localhost:8080', address),
    ),
  ].join('\n');
}

function bash(text: string, cwd: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn('bash', ['-c', text], { cwd, env: { ...process.env, ...env }, stdio: 'pipe' });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) stream.on('data', (chunk) => (output += chunk));
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** The text outside fenced code blocks (a `# comment` in a block is no heading, `](` no link). */
function prose(markdown: string): string {
  let fenced = false;
  return markdown
    .split('\n')
    .map((line) => {
      const fence = /^\s*```/.test(line);
      if (fence) fenced = !fenced;
      return fenced || fence ? '' : line;
    })
    .join('\n');
}

/** The anchors GitHub gives a page's headings: `## Deployment: several instances` → `deployment-several-instances`. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '')
      .replaceAll(' ', '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

/** The repository-relative files a page links to, with the anchor asked for (`''` for none). */
function links(markdown: string, file: string): { target: string; file: string; anchor: string }[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]*)\)/g)]
    .map(([, target]) => target)
    .filter((target) => !/^[a-z]+:/.test(target)) // http(s), mailto
    .map((target) => {
      const [name, anchor = ''] = target.split('#');
      return { target, file: name ? path.join(path.dirname(file), name) : file, anchor };
    });
}

/**
 * A figure someone measured: "measured", "took" or "ran" and a duration in one sentence (a "." that
 * ends it is followed by a space), a duration like `10 min 37 s`, or the machine figures are
 * measured on.
 */
const MEASURED = [
  /\b(?:measured|took|ran)\b(?:[^.;|]|\.(?=\S))*?\d[\d,.]*\s?(?:µs|ms|s|min|minutes|seconds|hours)\b/i,
  /\b\d+ min \d+ s\b/,
  /development machine/i,
];

describe('the documents', () => {
  it('link only to files and headings that exist', async () => {
    const broken: string[] = [];
    for (const file of await documents()) {
      for (const link of links(await readFile(path.resolve(file), 'utf8'), file)) {
        const resolved = path.resolve(link.file);
        if (!resolved.startsWith(path.resolve('.') + path.sep) || !existsSync(resolved))
          broken.push(`${file}: ${link.target}`);
        else if (link.anchor && !anchors(await readFile(resolved, 'utf8')).has(link.anchor))
          broken.push(`${file}: ${link.target} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('name only files and folders of the repository', async () => {
    const missing: string[] = [];
    for (const file of await documents()) {
      const text = await readFile(path.resolve(file), 'utf8');
      // `test/e2e/fuzz.test.ts`, `src/sse/`: paths in code spans, from the repository's top folders
      for (const [, named] of text.matchAll(/`((?:src|test|cli|bench|scripts|docs)\/[\w./-]*)`/g)) {
        if (named.startsWith('bench/results/')) continue; // what `npm run bench` writes
        if (!existsSync(path.resolve(named))) missing.push(`${file}: ${named}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('are each one click from the README, which stays short', async () => {
    const readme = await readFile(path.resolve('README.md'), 'utf8');
    const linked = new Set(links(readme, 'README.md').map((link) => path.normalize(link.file)));
    const unlinked = (await documents()).filter((file) => file !== 'README.md' && !linked.has(file));
    expect(unlinked).toEqual([]);
    expect(readme.replace(/\n$/, '').split('\n').length).toBeLessThanOrEqual(README_MAX_LINES); // as wc -l counts
  });

  it('hold no measured figure outside bench/README.md', async () => {
    const found: string[] = [];
    for (const file of await documents()) {
      if (file === 'bench/README.md') continue;
      const text = await readFile(path.resolve(file), 'utf8');
      const flat = text.replaceAll('\n', ' '); // a sentence may run over lines
      for (const pattern of MEASURED) {
        for (const match of flat.matchAll(new RegExp(pattern.source, `${pattern.flags}g`)))
          found.push(`${file}:${text.slice(0, match.index).split('\n').length}: ${match[0]}`);
      }
    }
    expect(found).toEqual([]);
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

describe('the figure check', () => {
  it('recognises the figures the README used to hold, and not a setting', () => {
    const seen = (line: string) => MEASURED.some((pattern) => pattern.test(line));
    const figures = [
      'which take about a minute) ran 724 tests in 10 min 37 s',
      'keys: 4 to 10 s on the shared 2-CPU development machine',
      'bench/sqlite-sync.ts here measured 13,000–35,000 commits/s (median 0.1–3.9 ms per commit)',
      'abandoned at 200 ms took 0.6–1.0 s',
    ];
    expect(figures.filter((line) => !seen(line))).toEqual([]);
    expect(seen('a stream is pinged after 15 s; `PRESENCE_GRACE_MS`, default 30 s')).toBe(false);
  });
});

describe('the runner', () => {
  it('fails, naming the page and the block, when a command fails', async () => {
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
      'docs/example.md',
    );
    expect(blocks.map((b) => b.line)).toEqual([1, 8]);
    const run = await bash(script(blocks, 'x', 'docs/example.md'), tmpdir(), {});
    expect(run.code).not.toBe(0);
    expect(run.output).toContain('one');
    expect(run.output).toContain('the block at docs/example.md:8 failed');
    expect(run.output).not.toContain('after');
  });

  it('reads headings as GitHub anchors them, and no comment in a code block as one', () => {
    const page =
      '## Deployment: several instances\n```sh\n# a comment\n```\n## Events (`GET /events`)\n## HTTPS\n## HTTPS';
    expect([...anchors(page)]).toEqual([
      'deployment-several-instances',
      'events-get-events',
      'https',
      'https-1',
    ]);
  });
});

// One run is enough: the pages' commands use the default store (SQLite).
describe.skipIf(BACKEND !== 'sqlite')('the command blocks of README.md and docs/', () => {
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

  it('run, every block not marked, each page in order, against one server', async () => {
    const address = new URL(server?.url ?? '').host;
    const env = {
      HOME: path.join(dir, 'home'),
      TMPDIR: path.join(dir, 'tmp'), // what the blocks make with mktemp goes too, even when one fails
      XDG_DATA_HOME: path.join(dir, 'home', '.local', 'share'),
      SECURECHAT_SERVER: `http://${address}`,
    };
    const ran: string[] = [];
    const failed: string[] = [];
    let output = '';
    for (const file of await documents()) {
      const blocks = runnableBlocks(await readFile(path.join(root, file), 'utf8'), file);
      if (blocks.length === 0) continue;
      ran.push(...blocks.map((b) => `${file}:${b.line}`));
      const run = await bash(script(blocks, address, file), dir, env);
      output += run.output;
      if (run.code !== 0 || run.output.includes('readme-test: the block'))
        failed.push(`${file}\n${run.output}`);
    }
    expect(failed).toEqual([]);
    expect(ran.length, ran.join(' ')).toBeGreaterThanOrEqual(5);
    // the curl walkthrough's openssl check of serverSignature
    expect(output).toContain('Verified OK');
    // docs/cli.md: `decrypt` as written checks the signature and unwraps the key
    expect(output).toMatch(/server signature: valid\nchat key \(AES-256, hex\): [0-9a-f]{64}\n/);
    // docs/cli.md: `login` keeps the session the commands after it use; `logout` ends it
    expect(output).toMatch(/^logged in as user1 until /m);
    expect(output).toContain('logged out: the saved session of user1 is ended');
    // docs/users.md: registration says the command that works where it ran (a clone: npm run cli)
    expect(output).toContain('registered dana; log in with: npm run cli -- --user dana\n');
  }, 240_000);
});
