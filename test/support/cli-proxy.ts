import { readFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, expect } from 'vitest';
import { cliEnv, cliOf } from './cli.js';
import { Participant } from './client.js';
import { PASSWORD, startServer, type TestServer } from './helper.js';

/**
 * Helpers of the CLI's security tests. A server that serves genuinely server-signed but wrong data, for the CLI's tests: a proxy in
 * front of the real server answers chosen requests itself (rules) and passes everything else
 * through, event stream included.
 */
export type Rule = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface LyingProxy {
  url: string;
  rules: Rule[];
  /** Runs `fn` with `rules` in front of the pass-through, and takes them out after. */
  with<T>(rules: Rule[], fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export async function startProxy(upstream: string): Promise<LyingProxy> {
  const rules: Rule[] = [];
  const server = http.createServer(async (req, res) => {
    try {
      for (const rule of rules) if (await rule(req, res)) return;
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = { ...req.headers };
      delete headers.host;
      delete headers.connection;
      delete headers['content-length'];
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      const up = await request(upstream + req.url, {
        method: req.method as 'GET',
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
        signal: abort.signal,
      });
      const out = { ...up.headers };
      delete out['transfer-encoding'];
      delete out.connection;
      res.writeHead(up.statusCode, out as http.OutgoingHttpHeaders);
      res.flushHeaders();
      for await (const chunk of up.body) res.write(chunk);
      res.end();
    } catch {
      res.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    rules,
    async with(added, fn) {
      rules.push(...added);
      try {
        return await fn();
      } finally {
        for (const rule of added) rules.splice(rules.indexOf(rule), 1);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A rule answering `method path` (the path without its query) with JSON. */
export function answer(
  method: string,
  pathname: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Rule {
  return (req, res) => {
    if (req.method !== method || req.url?.split('?')[0] !== pathname) return false;
    req.resume();
    res.writeHead(status, {
      'content-type': status >= 400 ? 'application/problem+json' : 'application/json',
      ...headers,
    });
    res.end(JSON.stringify(body));
    return true;
  };
}

/** `p`'s current envelope of the chat, as the server has it. */
export async function envelopeOf(p: Participant, chatId: string) {
  const res = await p.api.call('getChatKey', { params: { chatId } });
  expect(res.status).toBe(200);
  return res.body;
}

/**
 * What {@link useLyingServer} made for the calling test file: the real server, the proxy in front
 * of it, the CLI's environment (the proxy's URL, the fixture key stores), and alice, bob and carol
 * logged in to the server itself. Imported from here, they hold what its `beforeAll` made (module
 * bindings are live, and vitest gives each test file modules of its own).
 */
export let server: TestServer;
export let proxy: LyingProxy;
export let env: Record<string, string>;
export let alice: Participant;
export let bob: Participant;
export let carol: Participant;

/**
 * The real CLI against a lying server, for the tests of the calling file: a server (a user stays
 * online a minute without a stream; no per-minute limit that a CLI run per test, each logging in and
 * most making a chat, would meet), the proxy the CLI talks to, and alice, bob and carol logged in
 * (carol online, so that inviting her rotates a chat's key).
 */
export function useLyingServer(): void {
  beforeAll(async () => {
    server = await startServer({
      PRESENCE_GRACE_MS: '60000',
      SECURECHAT_LOGIN_LIMIT: '1000000',
      SECURECHAT_CHAT_LIMIT: '1000000',
      SECURECHAT_MEMBERSHIP_LIMIT: '1000000',
    });
    proxy = await startProxy(server.url);
    env = cliEnv(proxy.url, server.keysDir);
    alice = await Participant.login(server.url, server.keysDir, 'alice', PASSWORD);
    bob = await Participant.login(server.url, server.keysDir, 'bob', PASSWORD);
    carol = await Participant.login(server.url, server.keysDir, 'carol', PASSWORD);
  });
  afterAll(async () => {
    await proxy?.close();
    await server?.close();
  });
}

/** The real CLI through the proxy: one command (`cli`) or the menu (`menu`). */
export const { cli, menu } = cliOf(() => env);

/** Runs `fn` with `rules` in front of the proxy's pass-through, and takes them out after. */
export const withRules = <T>(rules: Rule[], fn: () => Promise<T>): Promise<T> => proxy.with(rules, fn);

/** A problem+json body. */
export const problem = (status: number, code: string, detail: string) => ({
  type: 'about:blank',
  title: code,
  status,
  code,
  detail,
});

/** Expects what the CLI wrote to stderr to be one line. */
export const oneLine = (stderr: string) => expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);

/** A file of `user`'s folder in the key store (`known_keys.json`, `state.json`). */
export const userFile = (user: string, name: string) => path.join(server.keysDir, 'users', user, name);
export const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));
