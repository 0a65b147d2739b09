/**
 * Bundles the web client (web/src/main.ts and web/styles.css) with esbuild into web/dist/: the
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
export async function buildWeb(outDir = DIST_DIR): Promise<{ script: string; style: string }> {
  const assets = path.join(outDir, 'assets');
  await mkdir(assets, { recursive: true });
  const result = await build({
    entryPoints: { app: path.join(WEB_DIR, 'src/main.ts'), style: path.join(WEB_DIR, 'styles.css') },
    outdir: assets,
    entryNames: '[name]-[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'warning',
  });
  const outputs = result.outputFiles.map((f) => path.basename(f.path));
  const script = outputs.find((f) => f.startsWith('app-') && f.endsWith('.js'));
  const style = outputs.find((f) => f.startsWith('style-') && f.endsWith('.css'));
  if (!script || !style) throw new Error(`the web build made ${outputs.join(', ')}`);
  for (const file of result.outputFiles)
    await writeAtomic(path.join(assets, path.basename(file.path)), file.contents);
  const html = (await readFile(path.join(WEB_DIR, 'index.html'), 'utf8'))
    .replace('%STYLE%', `/assets/${style}`)
    .replace('%SCRIPT%', `/assets/${script}`);
  await writeAtomic(path.join(outDir, 'index.html'), html);
  for (const old of await readdir(assets))
    if (!outputs.includes(old) && !old.endsWith('.tmp')) await rm(path.join(assets, old), { force: true });
  return { script, style };
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
