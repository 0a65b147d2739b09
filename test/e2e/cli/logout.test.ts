import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { chatOf } from '../../support/chats.js';
import { alice, bob, env, proxy, type Rule, server, useLyingServer } from '../../support/cli-proxy.js';
import { PASSWORD } from '../../support/helper.js';

// The CLI's checks against a lying server (the review of the CLI, tests A1–A11, and its race
// scripts): each attack, against the real CLI over real HTTP through a proxy that lies
// (test/support/cli-proxy.ts), and refused.
useLyingServer();

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'cli', 'bin.js');

/** The CLI spawned directly as bob (to send it signals and close its pipes). */
function spawnCli(args: string[]) {
  const child = spawn(process.execPath, [BIN, '--user', 'bob', '--password-stdin', ...args], {
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  child.stdin.write(`${PASSWORD}\n`);
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.on('data', (d) => {
    out += d;
    wake();
  });
  child.stderr.on('data', (d) => {
    err += d;
    wake();
  });
  const exited = new Promise<number | string>((r) =>
    child.on('close', (code, sig) => r(code ?? String(sig))),
  );
  /** Resolves when `test` holds of (stdout, stderr), checked on every chunk. */
  const until = async (test: (out: string, err: string) => boolean) => {
    while (!test(out, err)) await new Promise<void>((r) => waiters.push(r));
  };
  return { child, exited, until, out: () => out, err: () => err };
}

/** 200 while the token is live, 401 once it was logged out. */
async function tokenStatus(token: string): Promise<number> {
  const r = await request(`${server.url}/users/online`, { headers: { authorization: token } });
  await r.body.text();
  return r.statusCode;
}

/** A rule that notes bob's token (from the request for the server key) and passes everything on. */
function tokenSpy(): { rule: Rule; token: () => string } {
  let token = '';
  return {
    rule: (req) => {
      if (req.url === '/server/key') token = String(req.headers.authorization);
      return false;
    },
    token: () => token,
  };
}

describe('every way the CLI ends logs out (A6, A7, A8)', () => {
  it('Ctrl-C between login and the first command logs out (A6)', async () => {
    let token = '';
    let seen!: () => void;
    const atKey = new Promise<void>((r) => {
      seen = r;
    });
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    // the request for the server key (right after login) is held until the CLI has exited
    const hold: Rule = async (req) => {
      if (req.url !== '/server/key') return false;
      token = String(req.headers.authorization);
      seen();
      await held;
      return false;
    };
    await proxy.with([hold], async () => {
      const p = spawnCli(['online']);
      await atKey;
      p.child.kill('SIGINT');
      await p.exited;
      release();
      expect(await tokenStatus(token)).toBe(401);
      expect(p.err()).not.toMatch(/\n\s+at /);
    });
  });

  it('SIGHUP (the terminal closed) in the menu logs out (A7)', async () => {
    const spy = tokenSpy();
    await proxy.with([spy.rule], async () => {
      const p = spawnCli([]);
      await p.until((_, err) => err.includes('* connected'));
      p.child.kill('SIGHUP');
      await p.exited;
      expect(spy.token()).not.toBe('');
      expect(await tokenStatus(spy.token())).toBe(401);
    });
  });

  it('listen --json | head -1 (stdout closed) ends quietly and logs out (A8)', async () => {
    const a = await chatOf(alice, bob);
    const spy = tokenSpy();
    await proxy.with([spy.rule], async () => {
      const p = spawnCli(['--json', '--chat', a, 'listen']);
      await p.until((_, err) => err.includes('* connected'));
      await alice.send(a, 1, 'one', 'ed25519');
      await p.until((out) => out.includes('"message"'));
      p.child.stdout.destroy();
      // the next lines written meet the closed pipe
      await alice.send(a, 1, 'two', 'ed25519');
      await alice.send(a, 1, 'three', 'ed25519');
      const code = await p.exited;
      expect(code).toBe(0);
      expect(p.err()).not.toMatch(/EPIPE|\n\s+at /);
      expect(await tokenStatus(spy.token())).toBe(401);
    });
  });
});
