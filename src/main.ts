import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { logOutput } from './util/log-output.js';

/** Reads config, builds the app, listens, and closes gracefully on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) console.error(`securechat: ${line}`);
      process.exit(2);
    }
    throw error;
  }
  // A closed standard error (its reader gone) must not crash the server either.
  process.stderr.on('error', () => {});
  const app = await buildApp(config, { logStream: logOutput() });
  const address = await app.listen({ port: config.port, host: config.host });
  // An accept() that fails (EMFILE when every file descriptor is taken) is an 'error' on the
  // server: without a listener Node would crash the whole process. Log it and keep serving.
  app.server.on('error', (err) => app.log.error({ err }, 'the server could not accept a connection'));
  const ready = `Secure Chat listening on ${address} (API docs at ${address}/docs)`;
  // Said even when the log level hides info: scripts (and people) wait for this line.
  if (['info', 'debug', 'trace'].includes(config.logLevel)) app.log.info(ready);
  else process.stderr.write(`${ready}\n`);

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      app.log.warn({ signal }, 'a second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    app.log.info({ signal }, 'shutting down');
    // Whatever the close meets (a request that never ends, a store that does not answer), the
    // process is gone within SECURECHAT_SHUTDOWN_MS; nothing at exit waits for standard output.
    const timer = setTimeout(() => {
      app.log.error(`shutdown took longer than ${config.shutdownMs} ms; exiting`);
      process.exit(1);
    }, config.shutdownMs);
    timer.unref();
    app.close().then(
      () => process.exit(0),
      (err) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error) => {
  console.error(`securechat: failed to start: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
});
