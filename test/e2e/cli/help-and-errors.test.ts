import type { ChildProcess } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliProcess, runCli } from '../../../scripts/child.js';
import { chatOf } from '../../support/chats.js';
import {
  alice,
  answer,
  bob,
  cli,
  env,
  envelopeOf,
  problem,
  proxy,
  server,
  useLyingServer,
  withRules,
} from '../../support/cli-proxy.js';
import { PASSWORD, startServer, tempDir } from '../../support/helper.js';

// The CLI against a server that serves genuinely server-signed but wrong data: a proxy in front of
// the real server answers chosen requests itself and passes everything else through, event stream
// included (test/support/cli-proxy.ts).
useLyingServer();

describe('the CLI says what went wrong and what to do next (issue 17)', () => {
  it('Ctrl-C in listen logs out (item 2)', async () => {
    const watch = await bob.events();
    const listen = new CliProcess(['--user', 'erin', '--password-stdin', 'listen'], env);
    listen.send(PASSWORD);
    try {
      await listen.waitFor(/^ERR \* connected$/);
      await watch.nextOf('presence', (d) => d.username === 'erin' && d.online === true);
      // the child is private to CliProcess; a signal is what Ctrl-C sends
      (listen as unknown as { child: ChildProcess }).child.kill('SIGINT');
      expect(await listen.exited).toBe(0);
      // the grace period is 60 s here: only a logout makes erin offline this soon
      await watch.nextOf('presence', (d) => d.username === 'erin' && d.online === false);
    } finally {
      watch.close();
    }
  });

  it('decrypt says what is wrong: no envelope, another user\u2019s envelope, a missing file (item 5)', async () => {
    const noEnvelope = await runCli(['--user', 'carol', 'decrypt'], env, JSON.stringify({ chats: [] }));
    expect(noEnvelope.code).toBe(1);
    expect(noEnvelope.stderr).toMatch(/^securechat: this JSON holds no key envelope/);
    const a = await chatOf(alice, bob);
    const bobs = JSON.stringify(await envelopeOf(bob, a));
    const other = await runCli(['--user', 'carol', 'decrypt'], env, bobs);
    expect(other.code).toBe(1);
    expect(other.stderr).toBe(
      "securechat: cannot unwrap: this key was not wrapped for carol's encryption key (or it was altered)",
    );
    const missing = await runCli(
      ['--user', 'bob', 'decrypt', '--server-key', '/nonexistent/server.pub.pem'],
      env,
      bobs,
    );
    expect(missing.stderr).toBe('securechat: --server-key /nonexistent/server.pub.pem: no such file');
    const mine = await runCli(['--user', 'bob', 'decrypt'], env, bobs);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toMatch(/chat key \(AES-256, hex\): [0-9a-f]{64}$/);
  });

  it('keys live in a per-user folder by default, and the error says where (item 10)', async () => {
    const home = await tempDir();
    try {
      const base = { SECURECHAT_SERVER: proxy.url, SECURECHAT_KEYS_DIR: '', HOME: home };
      const dot = await runCli(
        ['--user', 'bob', '--password-stdin', 'online'],
        { ...base, XDG_DATA_HOME: '' },
        PASSWORD,
      );
      expect(dot.code).toBe(1);
      expect(dot.stderr).toContain(
        `no readable key store for bob in ${path.join(home, '.securechat', 'users', 'bob')}`,
      );
      expect(dot.stderr).toMatch(/pass --keys DIR \(or set SECURECHAT_KEYS_DIR\)/);
      const xdg = path.join(home, 'data');
      const r = await runCli(
        ['--user', 'bob', '--password-stdin', 'online'],
        { ...base, XDG_DATA_HOME: xdg },
        PASSWORD,
      );
      expect(r.stderr).toContain(
        `no readable key store for bob in ${path.join(xdg, 'securechat', 'users', 'bob')}`,
      );
      await cp(path.join(server.keysDir, 'users', 'bob'), path.join(xdg, 'securechat', 'users', 'bob'), {
        recursive: true,
      });
      const ok = await runCli(
        ['--user', 'bob', '--password-stdin', 'online'],
        { ...base, XDG_DATA_HOME: xdg },
        PASSWORD,
      );
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('help names its sections; 429 says how long; send names --chat and prints the seq (item 11)', async () => {
    const help = await runCli(['--help'], env);
    expect(help.stdout).toMatch(/^One-shot commands \(securechat \[options\] <command>\):$/m);
    expect(help.stdout).toMatch(/^Menu commands \(interactive\):$/m);
    expect(help.stdout).not.toMatch(/^Commands:$/m);

    const limited = answer('POST', '/auth/login', 429, problem(429, 'RATE_LIMITED', 'Too many requests.'), {
      'retry-after': '42',
    });
    await withRules([limited], async () => {
      const r = await cli('bob', 'online');
      expect(r.stderr).toBe('securechat: login refused: too many attempts; try again in 42 s');
    });

    const noChat = await cli('bob', 'send', 'hello');
    expect(noChat.code).toBe(1);
    expect(noChat.stderr).toMatch(/^securechat: send needs --chat ID/);
    const a = await chatOf(alice, bob);
    await alice.send(a, 1, 'first', 'ed25519');
    const sent = await cli('bob', '--chat', a.slice(0, 8), 'send', 'second');
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toBe(`sent as #2 in chat ${a.slice(0, 8)} (epoch 1)`);
  });

  it('a certificate error suggests --ca FILE (item 11)', async () => {
    const tls = await startServer({ SECURECHAT_TLS: 'self-signed' });
    try {
      const r = await runCli(
        ['--server', tls.url, '--user', 'bob', '--password-stdin', 'online'],
        { SECURECHAT_KEYS_DIR: tls.keysDir },
        PASSWORD,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^securechat: the server's certificate is not trusted \(.*\): .*pass it with --ca FILE/,
      );
    } finally {
      await tls.close();
    }
  });
});
