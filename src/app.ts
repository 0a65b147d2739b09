import { Ajv } from 'ajv';
import formats from 'ajv-formats';
import Fastify, { type FastifyInstance } from 'fastify';
import { openBackends } from './bootstrap/backends.js';
import { provisionDemoUsers } from './bootstrap/demo-users.js';
import { ensureJwtSecret } from './bootstrap/jwt-secret.js';
import { createInstruments } from './bootstrap/metrics.js';
import { ensureServerKey } from './bootstrap/server-key.js';
import { checkSharedIdentity } from './bootstrap/shared-identity.js';
import { ensureTls } from './bootstrap/tls.js';
import type { Config } from './config.js';
import type { KeySizes } from './crypto/keys.js';
import { unavailable } from './errors.js';
import accountChanges from './plugins/account-changes.js';
import accounts from './plugins/accounts.js';
import auth from './plugins/auth.js';
import { SMALL_BODY_LIMIT } from './plugins/body-limits.js';
import busPlugin from './plugins/bus.js';
import chats from './plugins/chats.js';
import configPlugin from './plugins/config.js';
import connections, { serverTimeouts } from './plugins/connections.js';
import docs from './plugins/docs.js';
import jobs from './plugins/jobs.js';
import metricsPlugin from './plugins/metrics.js';
import notFound from './plugins/not-found.js';
import presence from './plugins/presence.js';
import problems from './plugins/problems.js';
import registration from './plugins/registration.js';
import { RequestLog } from './plugins/request-log.js';
import routes from './plugins/routes.js';
import security from './plugins/security.js';
import serverKeyPlugin from './plugins/server-key.js';
import storePlugin from './plugins/store.js';
import streams from './plugins/streams.js';
import web from './plugins/web.js';
import { loadSpec } from './spec.js';

export interface AppOptions {
  /** Key sizes for generated keys (tests use smaller RSA keys; the protocol's are the default). */
  keySizes?: KeySizes;
  /** Where the JSON log goes (default standard output); tests read it to check what is logged. */
  logStream?: NodeJS.WritableStream;
}

/** Never echoed to logs: credentials, tokens and key material. */
export const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'password',
  'token',
  '*.password',
  '*.token',
  '*.privateKey',
];

/**
 * Bodies are validated strictly (no coercion, unknown properties refused, never stripped); path and
 * query parameters are strings on the wire, so they are coerced.
 */
function validatorCompiler() {
  const strict = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, strict: false });
  const coercing = new Ajv({
    allErrors: false,
    coerceTypes: true,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
  // ajv-formats is CommonJS: its default export is the module object under NodeNext.
  const addFormats = (formats as unknown as { default: typeof formats.default }).default;
  addFormats(strict);
  addFormats(coercing);
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema);
}

/** Log lines written before Fastify (and its logger) exists, in the same JSON shape. */
function startupLog(level: string) {
  const quiet = level === 'silent' || level === 'fatal' || level === 'error';
  const line = (n: number) => (obj: object, msg: string) => {
    if (!quiet) process.stdout.write(`${JSON.stringify({ level: n, time: Date.now(), ...obj, msg })}\n`);
  };
  return { info: line(30), warn: line(40) };
}

/**
 * Counts requests in flight so that close() (SIGTERM) finishes them before the sockets go: new
 * requests get 503 meanwhile (`GET /health/ready` included, so a load balancer takes the instance
 * out at once), streams are told to reconnect elsewhere, and the wait is bounded. The liveness
 * probe still answers: the process is alive while it drains.
 */
const LIVENESS_PATH = '/health/live';

function drainOnClose(app: FastifyInstance, boundMs: number): void {
  let inFlight = 0;
  let closing = false;
  let drained: (() => void) | undefined;
  app.addHook('onRequest', async (request, reply) => {
    // Our own 503 while closing (Fastify's return503OnClosing answers plain JSON, not a problem)
    if (closing && request.routeOptions.url !== LIVENESS_PATH) {
      reply.header('connection', 'close');
      throw unavailable('The server is shutting down; try again in a moment.', 1);
    }
    inFlight += 1;
    reply.raw.once('close', () => {
      inFlight -= 1;
      if (inFlight === 0) drained?.();
    });
  });
  app.addHook('preClose', async () => {
    closing = true;
    if (inFlight === 0) return;
    await new Promise<void>((resolve) => {
      drained = resolve;
      setTimeout(resolve, boundMs).unref();
    });
  });
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const logger = { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' } };
  // TLS material is read (or made) before the server exists: Fastify takes it at construction.
  const https = await ensureTls(config, startupLog(config.logLevel)).catch((error) => {
    throw new Error(`TLS: ${error instanceof Error ? error.message : error}`);
  });
  const timeouts = serverTimeouts(config);
  // metrics on (SECURECHAT_METRICS_PORT): counted from the start; off, nothing is counted at all
  const instruments = config.metricsPort === undefined ? undefined : createInstruments();
  const app = Fastify({
    logger: options.logStream ? { ...logger, stream: options.logStream } : logger,
    // over TLS the handshake gets no longer than a request's head
    ...(https
      ? { https: { ...https, ...timeouts, handshakeTimeout: config.headersTimeoutMs } }
      : { http: timeouts }),
    // Fastify sets these two on the server itself (its defaults: 72 s, and no request timeout)
    keepAliveTimeout: config.keepAliveTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    // each operation has its own limit (src/plugins/body-limits.ts); this is for every other route
    bodyLimit: SMALL_BODY_LIMIT,
    // A path Fastify cannot route (its percent-encoding is not UTF-8, a part of it is over 100
    // characters) names nothing: answered and counted as an unknown path (src/plugins/not-found.ts).
    frameworkErrors: (error, request, reply) =>
      request.server.answerUnknownPath(
        request,
        reply,
        error.code === 'FST_ERR_BAD_URL'
          ? ' (its percent-encoding is not UTF-8)'
          : ' (a part of it is too long)',
      ),
    // request.ip is the socket's address unless the listed proxies are trusted to say otherwise
    trustProxy: config.trustProxy.length > 0 ? config.trustProxy : false,
    // while closing, new requests get our problem+json 503 (drainOnClose), not Fastify's plain JSON
    return503OnClosing: false,
    // Streams are closed in preClose; sockets still open after it are dropped rather than waited for.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false } },
    // one line per request instead of Fastify's two
    logController: new RequestLog(instruments?.observeRequest),
  });
  app.setValidatorCompiler(validatorCompiler());

  const spec = loadSpec();
  app.decorate('routeList', [] as { method: string; url: string }[]);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) app.routeList.push({ method, url: route.url });
  });
  const backends = await openBackends(config, app.log, instruments?.metrics);
  // with metrics on, every store operation and bus publication is timed (src/bootstrap/metrics.ts)
  const store = instruments ? instruments.timeStore(backends.store) : backends.store;
  const bus = instruments ? instruments.timeBus(backends.bus) : backends.bus;
  try {
    const serverKey = await ensureServerKey(config.keysDir, app.log, options.keySizes?.rsaBits);
    const secret = await ensureJwtSecret(config.dataDir, config.jwtSecret);
    if (config.store.kind === 'postgres') await checkSharedIdentity(store, secret, serverKey);
    await app.register(problems);
    await app.register(security, { config });
    // Each plugin closes what it opened; onClose runs in reverse, so the store closes last.
    await app.register(configPlugin, { config });
    await app.register(metricsPlugin, { instruments });
    await app.register(connections);
    await app.register(notFound);
    await app.register(storePlugin, { store });
    await app.register(busPlugin, { bus });
    await app.register(auth, { secret, isRevoked: (jti: string) => store.isTokenRevoked(jti) });
    await app.register(serverKeyPlugin, { serverKey, bus });
    await app.register(accounts);
    await app.register(registration);
    await app.register(presence);
    await app.register(chats);
    await app.register(streams);
    await app.register(accountChanges);
    await app.register(jobs);
    // Requests in flight get four fifths of the limit; the rest is for closing the streams, the
    // bus and the store in order before main.ts's hard exit at the limit itself.
    drainOnClose(app, Math.floor(config.shutdownMs * 0.8));
    await app.register(docs, { spec });
    await app.register(web);
    await app.register(routes, { spec });
    await app.ready();
    if (config.demoUsers) await provisionDemoUsers(app.accounts, config.keysDir, app.log, options.keySizes);
  } catch (error) {
    await app.close().catch(() => {});
    await bus.close();
    await store.close();
    throw error;
  }
  return app;
}
