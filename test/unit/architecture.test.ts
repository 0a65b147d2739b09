import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Keeps the arrows one-way: every import under src/ (type-only imports too) read from the source.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = path.join(ROOT, 'src');

/**
 * The layers, lowest first: a file may import from its own layer and the ones below it, never
 * from one above. A module is a folder under src/, or a file at its top.
 */
const LAYERS: string[][] = [
  ['contract', 'util', 'client'],
  ['crypto', 'errors.ts', 'config.ts', 'config', 'spec.ts'],
  ['store'],
  ['bus'],
  ['services'],
  ['sse'],
  ['routes'],
  ['plugins', 'bootstrap', 'admin', 'app.ts', 'main.ts'],
];

const rank = (module: string): number => {
  const i = LAYERS.findIndex((layer) => layer.includes(module));
  if (i < 0) throw new Error(`src/${module} is in no layer of test/unit/architecture.test.ts: give it one`);
  return i;
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The module of a path under src/: its first folder, or the file itself at the top. */
const moduleOf = (file: string) => path.relative(SRC, file).split(path.sep)[0];

interface Import {
  from: string;
  to: string;
  line: string;
}

/** Every relative import and re-export of the tree, resolved to the file it names. */
function imports(files: string[]): Import[] {
  const found: Import[] = [];
  const pattern =
    /(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(pattern)) {
      const spec = match[1] ?? match[2];
      const to = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      found.push({ from: file, to, line: `${path.relative(SRC, file)} imports ${spec}` });
    }
  }
  return found;
}

const all = imports(sources(SRC));

/** The imports that break the rules; empty on a sound tree. */
function violations(list: Import[]): string[] {
  const out: string[] = [];
  for (const { from, to, line } of list) {
    if (!to.startsWith(SRC + path.sep)) {
      out.push(`${line}: outside src/`);
      continue;
    }
    const a = moduleOf(from);
    const b = moduleOf(to);
    if (a === b) continue;
    if (rank(b) > rank(a)) out.push(`${line}: ${b} is a layer above ${a}`);
    if ((a === 'store' || a === 'bus') && b === 'errors.ts') out.push(`${line}: HTTP errors in ${a}/`);
    if (a === 'client' && b !== 'contract') out.push(`${line}: the client library imports server code`);
  }
  return out;
}

describe('the import arrows under src/ point one way', () => {
  it('finds the imports it checks', () => {
    // a reader that found nothing would pass every rule
    expect(all.length).toBeGreaterThan(100);
    expect(all.some((i) => i.line === 'app.ts imports ./config.js')).toBe(true);
    expect(all.some((i) => i.line.startsWith('client/') && i.line.endsWith('../contract/index.js'))).toBe(
      true,
    );
  });

  it('gives every module a layer', () => {
    const modules = new Set(sources(SRC).map(moduleOf));
    for (const module of modules) expect(() => rank(module)).not.toThrow();
  });

  it('has no import of a layer above, no HTTP error in store/ or bus/, no server code in client/', () => {
    expect(violations(all)).toEqual([]);
  });

  it('reports each kind of violation', () => {
    const at = (p: string) => path.join(SRC, p);
    const sample = (from: string, to: string) => ({ from: at(from), to: at(to), line: `${from} -> ${to}` });
    expect(
      violations([
        sample('store/sqlite.ts', 'services/messages.ts'),
        sample('bus/redis.ts', 'errors.ts'),
        sample('client/api.ts', 'crypto/keys.ts'),
        sample('routes/users.ts', 'plugins/services.ts'),
        sample('services/messages.ts', 'store/types.ts'),
      ]),
    ).toEqual([
      'store/sqlite.ts -> services/messages.ts: services is a layer above store',
      'bus/redis.ts -> errors.ts: HTTP errors in bus/',
      'client/api.ts -> crypto/keys.ts: crypto is a layer above client',
      'client/api.ts -> crypto/keys.ts: the client library imports server code',
      'routes/users.ts -> plugins/services.ts: plugins is a layer above routes',
    ]);
  });
});

/** The product's code: the server and client library, the terminal client, the browser client. */
const PRODUCT = ['src', 'cli', 'web/src'].map((dir) => path.join(ROOT, dir));

/** Each file's static imports (type-only and re-exports too) of other files of the product. */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>(files.map((file) => [file, []]));
  const pattern = /(?:^|\n)\s*(?:(?:import|export)\b[^'";]*?\bfrom\s*|import\s*)['"](\.[^'"]+)['"]/g;
  for (const file of files) {
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(pattern)) {
      const to = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      if (known.has(to)) graph.get(file)?.push(to);
    }
  }
  return graph;
}

/**
 * The import circles: each strongly connected set of files (Tarjan), as its paths from the
 * repository's root, sorted, joined by " + ". A file that imports itself is a circle of one.
 */
function circles(graph: Map<string, string[]>): string[] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file) as number);
    stack.push(file);
    onStack.add(file);
    for (const to of graph.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file) as number, low.get(to) as number));
      } else if (onStack.has(to)) low.set(file, Math.min(low.get(file) as number, index.get(to) as number));
    }
    if (low.get(file) !== index.get(file)) return;
    const members: string[] = [];
    for (let top = stack.pop(); ; top = stack.pop()) {
      onStack.delete(top as string);
      members.push(top as string);
      if (top === file) break;
    }
    if (members.length > 1 || graph.get(file)?.includes(file))
      found.push(
        members
          .map((m) => path.relative(ROOT, m).split(path.sep).join('/'))
          .sort()
          .join(' + '),
      );
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found.sort();
}

/**
 * Circles known and to be broken in the house restructuring: delete an entry when its circle is
 * gone (the last test below says so). Nothing is ever added here.
 */
const KNOWN_CIRCLES: string[] = [];

describe('no import circles in src/, cli/ and web/src/', () => {
  const graph = importGraph(PRODUCT.flatMap(sources));

  it('reads the imports of every part', () => {
    const edges = [...graph.values()].flat();
    for (const dir of PRODUCT) expect(edges.some((to) => to.startsWith(dir + path.sep))).toBe(true);
  });

  it('has no circle of imports, not even through a type', () => {
    expect(circles(graph).filter((c) => !KNOWN_CIRCLES.includes(c))).toEqual([]);
  });

  it('finds a circle of any length, and a file importing itself', () => {
    const g = new Map([
      ['/a', ['/b']],
      ['/b', ['/c']],
      ['/c', ['/a', '/d']],
      ['/d', []],
      ['/e', ['/e']],
      ['/f', ['/d']],
    ]);
    const names = (list: string[]) => list.map((c) => c.split(' + ').map((f) => path.basename(f)));
    expect(names(circles(g))).toEqual([['a', 'b', 'c'], ['e']]);
  });

  it('lists only circles that are still there', () => {
    expect(KNOWN_CIRCLES.filter((c) => !circles(graph).includes(c))).toEqual([]);
  });
});

// One job per file: a file past this many lines holds more than one, and is split by job. The
// contract types are generated from openapi.yaml, and the migrations are the schema's history.
const MAX_LINES = 300;
const GENERATED = new Set(['src/contract/openapi.ts', 'src/store/migrations.ts']);

/** Source files (not tests) over `max` lines, as paths from the root with their counts. */
function longFiles(files: string[], max: number): string[] {
  return files
    .map((file) => ({ name: path.relative(ROOT, file).split(path.sep).join('/'), file }))
    .filter(({ name }) => !GENERATED.has(name))
    .map(({ name, file }) => ({ name, lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
    .filter(({ lines }) => lines > max)
    .map(({ name, lines }) => `${name} (${lines} lines)`);
}

describe('file sizes', () => {
  const everySource = () =>
    ['src', 'cli', 'web/src', 'bench', 'scripts'].flatMap((dir) => sources(path.join(ROOT, dir)));

  it(`keeps every source file at ${MAX_LINES} lines or fewer, the generated contract and the migrations aside`, () => {
    expect(longFiles(everySource(), MAX_LINES)).toEqual([]);
  });

  it('names a file past the limit, and only such a file', () => {
    const files = everySource().filter(
      (f) => !GENERATED.has(path.relative(ROOT, f).split(path.sep).join('/')),
    );
    const longest = Math.max(...files.map((f) => readFileSync(f, 'utf8').split('\n').length - 1));
    expect(longFiles(files, longest)).toEqual([]);
    expect(longFiles(files, longest - 1)).toHaveLength(1);
    expect(longFiles([path.join(SRC, 'contract/openapi.ts')], 1)).toEqual([]);
  });
});
