/**
 * `npm start`: checks the configuration first (a wrong variable is said at once, exit 2, before
 * the web client's bundle is built for nothing), then builds the web client, then runs the server.
 */
import { ConfigError, loadConfig } from '../src/config.js';
import { buildWeb } from '../web/build.js';

try {
  loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  for (const line of error.problems) console.error(`securechat: ${line}`);
  process.exit(2);
}
try {
  const { script } = await buildWeb();
  console.error(`web client built (${script})`);
} catch (error) {
  console.error(
    `securechat: the web client did not build: ${error instanceof Error ? error.message : error}`,
  );
  process.exit(1);
}
await import('../src/main.js');
