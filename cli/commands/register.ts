import { Api, register as registerUser } from '../../src/client/index.js';
import { nodeFetch } from '../../src/client/node/index.js';
import { CliError } from '../errors.js';
import { ensureKeyStore, type KeygenOptions, type KeygenResult, userDir } from './keygen.js';

export interface RegisterOptions extends KeygenOptions {
  server: string;
  ca?: string;
  /** `--code`, else `$SECURECHAT_REGISTER_CODE` (another local user can read a command line, not an environment). */
  code?: string;
  /** Asks for the code on a terminal when neither gave it. */
  askCode?: () => Promise<string>;
  /** Asked twice on a terminal, or the first line of standard input (--password-stdin). */
  password: () => Promise<string>;
  signal?: AbortSignal;
}

/**
 * `register`: makes the key store when there is none (as keygen), then registers its public
 * halves with the one-time code. A failed registration keeps the key store for the next try.
 */
export async function register(options: RegisterOptions) {
  userDir(options.keysDir, options.user); // a bad --user is refused before the code and password are asked
  const code = options.code || (await options.askCode?.())?.trim();
  if (!code)
    throw new CliError(
      'register needs the one-time code from your administrator (npm run user:invite): set SECURECHAT_REGISTER_CODE, or type it when asked on a terminal (--code CODE works too, but other users of this machine can read a command line while it runs)',
    );
  const password = await options.password();
  const store = await ensureKeyStore(options);
  const made = 'lines' in store ? (store as KeygenResult) : undefined;
  const http = nodeFetch({ ca: options.ca });
  try {
    const api = new Api({ server: options.server, signal: options.signal, ...http });
    const done = await registerUser(api, {
      username: options.user as string,
      password,
      code,
      keys: store.keys,
    });
    const lines = [
      ...(made?.lines ?? []),
      `registered ${done.username}; log in with: ${invocation()} --user ${done.username}`,
    ];
    return { lines, result: { username: done.username, fingerprints: done.fingerprints } };
  } catch (error) {
    if (made)
      console.error(`securechat: the key store stays in ${made.result.dir}; run register again to retry`);
    throw error;
  } finally {
    await http.close();
  }
}

/** How this CLI was started, as the user would type it again: `npm run cli --` in a clone, else `securechat`. */
export function invocation(): string {
  return process.env.npm_lifecycle_event === 'cli' ? 'npm run cli --' : 'securechat';
}
