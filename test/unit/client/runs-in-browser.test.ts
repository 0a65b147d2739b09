import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../../src/client');

/** Every .ts file under src/client/, except the Node adapters in node/. */
async function browserFiles(dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (file !== path.join(root, 'node')) out.push(...(await browserFiles(file)));
    } else if (entry.name.endsWith('.ts')) out.push(file);
  }
  return out;
}

describe('the client library runs in a browser', () => {
  it('imports nothing from node: and nothing outside src/client/ (but its Node adapters; the contract as types only)', async () => {
    const files = await browserFiles();
    expect(files.length).toBeGreaterThan(5);
    const contract = path.resolve(root, '../contract');
    for (const file of files) {
      const source = await readFile(file, 'utf8');
      const imports = source.matchAll(
        /^(?:import|export)(\s+type\b)?[^;]*?\bfrom\s+'([^']+)'|\bimport\s*\(\s*'([^']+)'/gm,
      );
      for (const [, typeOnly, from, dynamic] of imports) {
        const spec = from ?? dynamic;
        expect(spec, `${path.relative(root, file)} imports ${spec}`).toMatch(/^\.\.?\//);
        const target = path.resolve(path.dirname(file), spec);
        if (target.startsWith(`${contract}${path.sep}`)) {
          // openapi.yaml's generated types, erased from the bundle: only `import type` may reach them.
          expect(typeOnly, `${path.relative(root, file)} imports ${spec} (not as types)`).toBeDefined();
        } else {
          expect(
            target.startsWith(`${root}${path.sep}`),
            `${path.relative(root, file)} imports ${spec}`,
          ).toBe(true);
        }
        expect(
          target.startsWith(path.join(root, 'node')),
          `${path.relative(root, file)} imports ${spec}`,
        ).toBe(false);
      }
      expect(source, path.relative(root, file)).not.toMatch(/\bBuffer\.|\bprocess\.|\brequire\(/);
    }
  });

  it('bundles for platform=browser with esbuild', async () => {
    const result = await build({
      entryPoints: [path.join(root, 'index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    expect(result.outputFiles[0].text).toContain('securechat/v1/msg');
  });
});
