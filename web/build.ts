/**
 * Bundles the web client (web/src/main.ts, web/styles.css, the DSA key generation worker
 * web/src/workers/dsa.ts and the service worker web/src/workers/session-keeper.ts) with esbuild into web/dist/: the
 * assets under content-hashed names (served with a year's cache), index.html naming them (served
 * with no-cache). `npm start` runs it first and the test global setup runs it once; dist/ is not in git.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const WEB_DIR = path.dirname(fileURLToPath(import.meta.url));
export const DIST_DIR = path.join(WEB_DIR, 'dist');

/** Writes through a temp file and a rename, so that a reader sees the old file or the new, never half. */
async function writeAtomic(file: string, contents: string | Uint8Array): Promise<void> {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temp, contents);
  await rename(temp, file);
}

/**
 * Builds into `outDir` without emptying it first: a server (or a second test project's build)
 * reading it meanwhile finds every file whole. Assets of earlier builds are removed after.
 */
export async function buildWeb(
  outDir = DIST_DIR,
): Promise<{ script: string; style: string; dsaWorker: string }> {
  const assets = path.join(outDir, 'assets');
  await mkdir(assets, { recursive: true });
  const options = {
    outdir: assets,
    entryNames: '[name]-[hash]',
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'warning',
  } as const;
  // the DSA key generation worker first (a classic worker script): the app is built with its name
  const worker = await build({
    ...options,
    entryPoints: { 'dsa-worker': path.join(WEB_DIR, 'src/workers/dsa.ts') },
    format: 'iife',
  });
  const dsaWorker = worker.outputFiles.map((f) => path.basename(f.path)).find((f) => f.endsWith('.js'));
  if (!dsaWorker) throw new Error('the web build made no DSA worker');
  // the service worker that ends a session shortly after its page is gone, unless it was a reload
  const keeper = await build({
    ...options,
    entryPoints: { 'session-worker': path.join(WEB_DIR, 'src/workers/session-keeper.ts') },
    format: 'iife',
  });
  const sessionWorker = keeper.outputFiles.map((f) => path.basename(f.path)).find((f) => f.endsWith('.js'));
  if (!sessionWorker) throw new Error('the web build made no session worker');
  const result = await build({
    ...options,
    entryPoints: { app: path.join(WEB_DIR, 'src/main.ts'), style: path.join(WEB_DIR, 'styles.css') },
    format: 'esm',
    define: {
      SECURECHAT_DSA_WORKER: JSON.stringify(`/assets/${dsaWorker}`),
      SECURECHAT_SESSION_WORKER: JSON.stringify(`/assets/${sessionWorker}`),
    },
  });
  const files = [...worker.outputFiles, ...keeper.outputFiles, ...result.outputFiles];
  const outputs = files.map((f) => path.basename(f.path));
  const script = outputs.find((f) => f.startsWith('app-') && f.endsWith('.js'));
  const style = outputs.find((f) => f.startsWith('style-') && f.endsWith('.css'));
  if (!script || !style) throw new Error(`the web build made ${outputs.join(', ')}`);
  for (const file of files) await writeAtomic(path.join(assets, path.basename(file.path)), file.contents);
  const html = (await readFile(path.join(WEB_DIR, 'index.html'), 'utf8'))
    .replace('%STYLE%', `/assets/${style}`)
    .replace('%SCRIPT%', `/assets/${script}`);
  await writeAtomic(path.join(outDir, 'index.html'), html);
  for (const old of await readdir(assets))
    if (!outputs.includes(old) && !old.endsWith('.tmp')) await rm(path.join(assets, old), { force: true });
  return { script, style, dsaWorker };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildWeb().then(
    ({ script }) => console.error(`web client built (${script})`),
    (error) => {
      console.error(
        `securechat: the web client did not build: ${error instanceof Error ? error.message : error}`,
      );
      process.exit(1);
    },
  );
}
