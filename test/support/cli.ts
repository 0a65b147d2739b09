import { CliProcess, runCli } from '../../scripts/child.js';
import { PASSWORD } from './helper.js';

/** The environment that points the CLI at `url`, with the fixture users' key stores in `keysDir`. */
export const cliEnv = (url: string, keysDir: string): Record<string, string> => ({
  SECURECHAT_SERVER: url,
  SECURECHAT_KEYS_DIR: keysDir,
});

/**
 * The real CLI logged in as a fixture user ({@link PASSWORD} on stdin), with the environment
 * `env()` gives when it starts (so a file may set it in its `beforeAll`).
 */
export function cliOf(env: () => Record<string, string>) {
  return {
    /** One command, run to its end: `cli('bob', 'online')`. */
    cli: (user: string, ...args: string[]) =>
      runCli(['--user', user, '--password-stdin', ...args], env(), PASSWORD),
    /** The interactive menu, with `extraEnv` over the file's environment. */
    menu: (user: string, extraEnv: Record<string, string> = {}) => {
      const c = new CliProcess(['--user', user, '--password-stdin'], { ...env(), ...extraEnv });
      c.send(PASSWORD);
      return c;
    },
  };
}
