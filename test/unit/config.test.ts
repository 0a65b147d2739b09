import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/parse.js';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({}, '/srv');
    expect(c).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      dataDir: path.resolve('/srv/data'),
      keysDir: path.resolve('/srv/keys'),
      demoUsers: true,
      bcryptCost: 12,
      tokenTtl: 3600,
      presenceGraceMs: 30_000,
      heartbeatMs: 15_000,
      logLevel: 'info',
    });
    expect(c.jwtSecret).toBeUndefined();
  });

  it('reads every variable', () => {
    const c = loadConfig({
      PORT: '9000',
      HOST: '0.0.0.0',
      SECURECHAT_DEMO_USERS: 'false',
      BCRYPT_COST: '10',
      TOKEN_TTL: '30m',
      PRESENCE_GRACE_MS: '500',
      LOG_LEVEL: 'warn',
      SECURECHAT_JWT_SECRET: 'x'.repeat(32),
    });
    expect(c).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      demoUsers: false,
      bcryptCost: 10,
      tokenTtl: 1800,
      presenceGraceMs: 500,
      logLevel: 'warn',
    });
  });

  it('names every bad variable, one line each', () => {
    try {
      loadConfig({
        PORT: 'eighty',
        BCRYPT_COST: '3',
        TOKEN_TTL: '1 hour',
        LOG_LEVEL: 'loud',
        SECURECHAT_JWT_SECRET: 'short',
        SECURECHAT_DEMO_USERS: 'maybe',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const lines = (error as ConfigError).problems;
      expect(lines).toHaveLength(6);
      for (const name of ['PORT', 'BCRYPT_COST', 'TOKEN_TTL', 'LOG_LEVEL', 'SECURECHAT_DEMO_USERS']) {
        expect(lines.some((l) => l.startsWith(`${name}=`))).toBe(true);
      }
      expect(lines).toContain('SECURECHAT_JWT_SECRET is invalid: expected at least 32 bytes');
    }
  });

  it('chooses the store and the bus: SQLite and in-process unless told', () => {
    expect(loadConfig({}, '/srv')).toMatchObject({ store: { kind: 'sqlite' }, bus: { kind: 'memory' } });
    const c = loadConfig({
      SECURECHAT_STORE: 'postgres',
      DATABASE_URL: 'postgres://chat:pw@db.internal:5432/securechat',
      SECURECHAT_DB_POOL: '20',
      SECURECHAT_BUS: 'redis',
      REDIS_URL: 'rediss://cache.internal:6380',
      SECURECHAT_REDIS_PREFIX: 'prod:',
    });
    expect(c.store).toEqual({
      kind: 'postgres',
      url: 'postgres://chat:pw@db.internal:5432/securechat',
      poolSize: 20,
    });
    expect(c.bus).toEqual({ kind: 'redis', url: 'rediss://cache.internal:6380', prefix: 'prod:' });
  });

  it('refuses a bad backend setting without repeating a URL (it may hold a password)', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ SECURECHAT_STORE: 'mysql' })).toEqual([
      'SECURECHAT_STORE="mysql" is invalid: expected sqlite or postgres',
    ]);
    expect(problems({ SECURECHAT_BUS: 'kafka' })).toEqual([
      'SECURECHAT_BUS="kafka" is invalid: expected memory or redis',
    ]);
    expect(problems({ SECURECHAT_STORE: 'postgres' })).toEqual([
      'DATABASE_URL is required with SECURECHAT_STORE=postgres',
    ]);
    expect(problems({ SECURECHAT_BUS: 'redis' })).toEqual([
      'REDIS_URL is required with SECURECHAT_BUS=redis',
    ]);
    const secret = 'hunter2-secret';
    const bad = problems({
      SECURECHAT_STORE: 'postgres',
      DATABASE_URL: `mysql://root:${secret}@db`,
      SECURECHAT_BUS: 'redis',
      REDIS_URL: `http://:${secret}@cache`,
      SECURECHAT_REDIS_PREFIX: 'has space',
    });
    expect(bad).toHaveLength(3);
    expect(bad.join('\n')).not.toContain(secret);
  });

  it('names the variable and the rule of a bad secret, never its value (issue 17, item 3)', async () => {
    const secret = 'short-but-real-secret';
    let problems: string[] = [];
    try {
      loadConfig({ SECURECHAT_JWT_SECRET: secret, DATABASE_URL: 'x', SECURECHAT_STORE: 'postgres' });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      'SECURECHAT_JWT_SECRET is invalid: expected at least 32 bytes',
      'DATABASE_URL is invalid: expected a URL starting postgres:// or postgresql://',
    ]);
    // and the real server process says the same on stderr, exit code 2
    const env = { ...process.env, SECURECHAT_JWT_SECRET: secret, REDIS_URL: `ftp://:${secret}@cache` };
    const result = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = execFile(
        path.resolve('node_modules/.bin/tsx'),
        [path.resolve('src/main.ts')],
        { env: { ...env, SECURECHAT_BUS: 'redis' } },
        (_error, stdout, stderr) => resolve({ code: child.exitCode, out: stdout + stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.out).toContain('securechat: SECURECHAT_JWT_SECRET is invalid: expected at least 32 bytes');
    expect(result.out).toContain('securechat: REDIS_URL is invalid');
    expect(result.out).not.toContain(secret);
  });

  it('reads the trusted proxies: addresses, CIDR ranges and proxy-addr names, never "trust everyone"', () => {
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(loadConfig({ SECURECHAT_TRUST_PROXY: '10.0.0.0/8, ::1, fd00::/8,loopback' }).trustProxy).toEqual([
      '10.0.0.0/8',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
    for (const bad of ['true', '*', '10.0.0.0/33', 'proxy.example', '10.0.0.1/8/8']) {
      expect(() => loadConfig({ SECURECHAT_TRUST_PROXY: bad }), bad).toThrow(/SECURECHAT_TRUST_PROXY/);
    }
    const c = loadConfig({ SECURECHAT_LOGIN_QUEUE: '4', SECURECHAT_LOGIN_HASHES_PER_IP: '1' });
    expect([c.loginQueue, c.loginHashesPerIp]).toEqual([4, 1]);
  });

  it('refuses what the proxy library would refuse at start, naming the variable (accounts review, finding 11)', () => {
    for (const bad of ['0.0.0.0/0', '10.0.0.1/0', '::/0', '10.0.0.1, ::/0']) {
      expect(() => loadConfig({ SECURECHAT_TRUST_PROXY: bad }), bad).toThrow(
        /^SECURECHAT_TRUST_PROXY=".*" is invalid: expected comma-separated proxy addresses/,
      );
    }
    expect(loadConfig({ SECURECHAT_TRUST_PROXY: '::/1, 10.0.0.0/8' }).trustProxy).toEqual([
      '::/1',
      '10.0.0.0/8',
    ]);
  });

  it('never prints a value that looks like a URL or credentials (accounts review, finding 12)', () => {
    const env = {
      SECURECHAT_BUS: 'redis://:hunter2@cache:6379',
      SECURECHAT_STORE: 'postgres://me:hunter2@db/chat',
      SECURECHAT_TRUST_PROXY: 'user@10.0.0.1',
      SECURECHAT_TLS: 'https://example',
      PORT: 'me@host',
    };
    let message = '';
    try {
      loadConfig(env);
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of Object.keys(env)) expect(message).toMatch(new RegExp(`^${name} is invalid`, 'm'));
    expect(message).not.toMatch(/hunter2|example|host|10\.0\.0\.1/);
    // an ordinary wrong value is still shown, which is what helps
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow('PORT="eighty" is invalid');
  });

  it('reads the body, unknown-path, timeout and connection settings (security round 2, #1 and #6)', () => {
    expect(loadConfig({})).toMatchObject({
      bodyLimit: 1024 * 1024,
      notFoundLimit: 60,
      headersTimeoutMs: 5000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5000,
      maxConnectionsPerAddress: 64,
    });
    const c = loadConfig({
      SECURECHAT_BODY_LIMIT: '4194304',
      SECURECHAT_NOT_FOUND_LIMIT: '600',
      SECURECHAT_HEADERS_TIMEOUT_MS: '2000',
      SECURECHAT_REQUEST_TIMEOUT_MS: '60000',
      SECURECHAT_KEEPALIVE_TIMEOUT_MS: '65000',
      SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '0',
    });
    expect(c).toMatchObject({
      bodyLimit: 4 * 1024 * 1024,
      notFoundLimit: 600,
      headersTimeoutMs: 2000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 65_000,
      maxConnectionsPerAddress: 0,
    });
    // a limit that a largest message would not fit, and a head given longer than the whole request
    expect(() => loadConfig({ SECURECHAT_BODY_LIMIT: '65536' })).toThrow(/^SECURECHAT_BODY_LIMIT="65536"/);
    // a limit too small for a members-mode commit to a full chat (one envelope per member)
    expect(() => loadConfig({ SECURECHAT_BODY_LIMIT: '262144', SECURECHAT_MAX_MEMBERS: '1000' })).toThrow(
      'SECURECHAT_BODY_LIMIT is invalid: a members-mode commit for SECURECHAT_MAX_MEMBERS (1000) members needs at least 3076096',
    );
    expect(loadConfig({ SECURECHAT_BODY_LIMIT: '4194304', SECURECHAT_MAX_MEMBERS: '1000' }).bodyLimit).toBe(
      4194304,
    );
    expect(() => loadConfig({ SECURECHAT_MAX_CONNECTIONS_PER_ADDRESS: '-1' })).toThrow(
      /CONNECTIONS_PER_ADDRESS/,
    );
    expect(() => loadConfig({ SECURECHAT_HEADERS_TIMEOUT_MS: '40000' })).toThrow(
      'SECURECHAT_HEADERS_TIMEOUT_MS is invalid: expected at most SECURECHAT_REQUEST_TIMEOUT_MS (30000)',
    );
  });

  it('reads exactly the variables of the configuration table in docs/operations.md', () => {
    const read = new Set<string>();
    const recording = (env: Record<string, string>) =>
      new Proxy(env, {
        get: (target, name) => {
          if (typeof name === 'string') read.add(name);
          return target[name as string];
        },
      });
    loadConfig(recording({}));
    // the backends' own variables are read only when they are chosen
    loadConfig(
      recording({
        SECURECHAT_STORE: 'postgres',
        DATABASE_URL: 'postgres://db/chat',
        SECURECHAT_BUS: 'redis',
        REDIS_URL: 'redis://cache',
      }),
    );
    const docs = readFileSync(path.resolve('docs/operations.md'), 'utf8');
    const table = docs.slice(
      docs.indexOf('## Configuration'),
      docs.indexOf('\n## ', docs.indexOf('## Configuration') + 1),
    );
    const documented = new Set(
      table
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1])),
    );
    expect(documented.size).toBeGreaterThan(40);
    expect([...read].sort()).toEqual([...documented].sort());
  });

  it('parses durations', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('2m')).toBe(120);
    expect(parseDuration('1h')).toBe(3600);
    expect(parseDuration('7d')).toBe(604800);
    for (const bad of ['0', '-1', '1w', 'h', '']) expect(parseDuration(bad), bad).toBeUndefined();
  });
});
