import { execFile, execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const UNIT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../deploy/systemd/securechat.service',
);

/** The unit's directives, section by section (`[Service]` → `User` → its values). */
async function directives(): Promise<Map<string, Map<string, string[]>>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of (await readFile(UNIT, 'utf8')).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const [key, ...value] = line.split('=');
    if (!current) throw new Error(`a directive outside a section: ${line}`);
    current.set(key, [...(current.get(key) ?? []), value.join('=')]);
  }
  return sections;
}

const hasAnalyze = (() => {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('deploy/systemd/securechat.service', () => {
  it('runs the server as a dedicated user, hardened, with an environment file, restarted on failure', async () => {
    const service = (await directives()).get('Service');
    expect(service).toBeDefined();
    const one = (key: string) => service?.get(key)?.at(-1);
    expect(one('User')).toBe('securechat');
    expect(one('Group')).toBe('securechat');
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('PrivateTmp')).toBe('yes');
    expect(one('Restart')).toBe('on-failure');
    expect(one('EnvironmentFile')).toBe('/etc/securechat/securechat.env');
    // the data (and keys) folder is the one place it may write
    const writable = one('ReadWritePaths') ?? '';
    const folders = (service?.get('Environment') ?? [])
      .map((e) => /^SECURECHAT_(?:DATA|KEYS)_DIR=(.+)$/.exec(e)?.[1])
      .filter((f): f is string => f !== undefined);
    expect(folders).toHaveLength(2);
    for (const folder of folders) expect(folder.startsWith(`${writable}/`), folder).toBe(true);
    // the server itself, not `npm start` (which would build the web client into a read-only tree)
    expect(one('ExecStart')).toMatch(/^\/usr\/bin\/node --import tsx src\/main\.ts$/);
    // longer than SECURECHAT_SHUTDOWN_MS's default (10 s): systemd's SIGKILL comes after our own exit
    expect(Number(one('TimeoutStopSec'))).toBeGreaterThan(10);
  });

  it.skipIf(!hasAnalyze)('passes systemd-analyze verify without a warning', async () => {
    // verify wants the unit under its own name; it warns (and still exits 0) on an unknown key
    const dir = await mkdtemp(path.join(tmpdir(), 'securechat-unit-'));
    try {
      const copy = path.join(dir, 'securechat.service');
      await copyFile(UNIT, copy);
      const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile('systemd-analyze', ['verify', copy], (error, _stdout, stderr) =>
          resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
        ),
      );
      expect(code, stderr).toBe(0);
      expect(stderr.split('\n').filter((line) => line.includes(copy))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(hasAnalyze)(
    'is not run through systemd-analyze here: it is not installed (the directives are checked above)',
    () => {},
  );
});
