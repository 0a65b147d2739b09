import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { expect } from 'vitest';
import type { Participant } from './client.js';

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
