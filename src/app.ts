import { Ajv } from 'ajv';
import formats from 'ajv-formats';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { KeySizes } from './crypto/keys.js';
import auth from './plugins/auth.js';
import docs from './plugins/docs.js';
import problems from './plugins/problems.js';
import routes from './plugins/routes.js';
import services from './plugins/services.js';
import { ensureJwtSecret, ensureServerKey, provisionDemoUsers } from './services/provisioning.js';
import { loadSpec } from './spec.js';
import { openSqliteStore } from './store/sqlite.js';

export interface AppOptions {
  /** Key sizes for generated keys (tests use smaller RSA keys; the protocol's are the default). */
  keySizes?: KeySizes;
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

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' } },
    bodyLimit: config.bodyLimit,
    return503OnClosing: true,
    // Streams are closed in preClose; sockets still open after it are dropped rather than waited for.
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false } },
  });
  app.setValidatorCompiler(validatorCompiler());

  const spec = loadSpec();
  app.decorate('routeList', [] as { method: string; url: string }[]);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) app.routeList.push({ method, url: route.url });
  });
  const store = openSqliteStore(config.dataDir);
  try {
    const serverKey = await ensureServerKey(config.keysDir, app.log, options.keySizes?.rsaBits);
    const secret = await ensureJwtSecret(config.dataDir, config.jwtSecret);
    await app.register(problems);
    await app.register(auth, { secret, isRevoked: (jti: string) => store.isTokenRevoked(jti) });
    await app.register(services, { config, store, serverKey });
    await app.register(docs, { spec });
    await app.register(routes, { spec });
    await app.ready();
    if (config.demoUsers)
      await provisionDemoUsers(app.services.accounts, config.keysDir, app.log, options.keySizes);
  } catch (error) {
    await app.close().catch(() => {});
    await store.close();
    throw error;
  }
  return app;
}
