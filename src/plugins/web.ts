import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { Errors, unavailable } from '../errors.js';

/** Where `web/build.ts` puts the bundle (git-ignored). */
export const WEB_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dist');

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/**
 * The web client's own CSP, stricter than the server's default (which Swagger UI at /docs needs):
 * nothing but this origin's scripts, styles and API; no inline style; no sink that takes markup
 * as a string (Trusted Types, so a mistaken innerHTML throws; one of the two policies allowed lets only the
 * DSA key worker's own URL through to `new Worker`, see web/src/workers/protocol.ts, the other
 * only the session service worker's to `serviceWorker.register`, see web/src/kept-session.ts); never framed.
 * Workers fall under script-src 'self' (no worker-src, so nothing wider than scripts).
 */
export const WEB_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  'trusted-types securechat-dsa-worker securechat-session-worker',
].join('; ');

/**
 * The web client at `/`: index.html (never cached, so a new build is picked up at once) and its
 * content-hashed assets under /assets/ (cached for a year, immutable). Everything is read into
 * memory once; a request names a file only by a key of that map, never a path on disk.
 */
export default fp(
  async function web(app: FastifyInstance, { dist = WEB_DIST }: { dist?: string }) {
    let index: string | undefined;
    const assets = new Map<string, { type: string; body: Buffer }>();
    try {
      index = await readFile(path.join(dist, 'index.html'), 'utf8');
      for (const name of await readdir(path.join(dist, 'assets'))) {
        const type = TYPES[path.extname(name)];
        if (type) assets.set(name, { type, body: await readFile(path.join(dist, 'assets', name)) });
      }
    } catch {
      app.log.warn('the web client is not built (web/dist/): `npm start` builds it');
    }
    const strict = (reply: FastifyReply) =>
      reply.header('content-security-policy', WEB_CSP).header('x-frame-options', 'DENY');
    app.get('/', { schema: { hide: true } }, async (_request, reply) => {
      strict(reply);
      if (index === undefined) throw unavailable('The web client is not built; `npm start` builds it.', 60);
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(index);
    });
    app.get<{ Params: { file: string } }>(
      '/assets/:file',
      { schema: { hide: true } },
      async (request, reply) => {
        strict(reply);
        const asset = assets.get(request.params.file);
        if (!asset) throw new Errors.NOT_FOUND('No such asset.');
        return reply
          .type(asset.type)
          .header('cache-control', 'public, max-age=31536000, immutable')
          .send(asset.body);
      },
    );
  },
  { name: 'web' },
);
