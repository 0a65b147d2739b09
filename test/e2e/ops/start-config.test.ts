import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** `npm start` as an operator runs it, to its exit: its code, what it said, and how long it took. */
function npmStart(env: Record<string, string>) {
  return new Promise<{ code: number | null; said: string; ms: number }>((resolve) => {
    const started = performance.now();
    const child = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let said = '';
    child.stdout.on('data', (chunk) => {
      said += chunk;
    });
    child.stderr.on('data', (chunk) => {
      said += chunk;
    });
    child.on('close', (code) => resolve({ code, said, ms: performance.now() - started }));
  });
}

describe('npm start', () => {
  it('checks the configuration before it builds the web client: a bad PORT is said at once', async () => {
    const { code, said, ms } = await npmStart({ PORT: 'abc', SECURECHAT_DATA_DIR: '/nonexistent/data' });
    expect(code).toBe(2);
    expect(said).toContain('securechat: PORT="abc" is invalid: expected a port number 0-65535');
    // no bundle was built for nothing (the build says `web client built` when it is done)
    expect(said).not.toContain('web client');
    // no timing asserted: the machine is shared; the figure is for whoever reads the output
    console.log(`npm start with a bad PORT answered in ${Math.round(ms)} ms`);
  });
});
