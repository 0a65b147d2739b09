import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tar } from '../../../web/src/tar.js';
import { tempDir } from '../../support/helper.js';

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await tempDir('securechat-tar-');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the key store download format (web/src/tar.ts)', () => {
  it('is unpacked by GNU tar byte for byte, with each mode, across 512-byte boundaries', async () => {
    const contents = ['', 'x'.repeat(511), 'y'.repeat(512), 'z'.repeat(513), 'ünïcødé ✓\n'];
    const archive = tar([
      { path: 'users/kim/', mode: 0o700 },
      ...contents.map((content, i) => ({
        path: `users/kim/f${i}.pem`,
        mode: i % 2 ? 0o600 : 0o644,
        content,
      })),
    ]);
    expect(archive.length % 512).toBe(0);
    await writeFile(path.join(dir, 'a.tar'), archive);
    const out = path.join(dir, 'out');
    await mkdir(out);
    // tar warns on stderr about a bad checksum or a short archive: there must be nothing to say
    const { stderr } = await run('tar', ['-xf', path.join(dir, 'a.tar'), '-C', out]);
    expect(stderr).toBe('');
    expect((await stat(path.join(out, 'users/kim'))).mode & 0o777).toBe(0o700);
    for (const [i, content] of contents.entries()) {
      const file = path.join(out, `users/kim/f${i}.pem`);
      expect(await readFile(file, 'utf8')).toBe(content);
      expect((await stat(file)).mode & 0o777).toBe(i % 2 ? 0o600 : 0o644);
    }
  });

  it('refuses a path that would leave the folder it is unpacked in, or not fit the header', () => {
    for (const bad of ['/etc/passwd', 'users/../../x', '..', 'a'.repeat(101)])
      expect(() => tar([{ path: bad, mode: 0o600, content: '' }])).toThrow(/no tar entry/);
  });
});
