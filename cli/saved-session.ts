import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Api } from '../src/client/index.js';
import { nodeFetch } from '../src/client/node/index.js';
import { CliError } from './errors.js';
import { tempName } from './filelock.js';

/**
 * `securechat login` keeps the session here, for one-shot commands to use instead of logging in
 * (a bcrypt check each) every time: the server's URL, the username, the bearer token and when it
 * expires. In the user's own folder beside their key store, readable by them only (0600), until
 * the token expires or `securechat logout`. The token is as good as the password until then.
 */
export interface SavedSession {
  server: string;
  username: string;
  token: string;
  expiresAt: string;
}

export const sessionFile = (keysDir: string, username: string) =>
  path.join(keysDir, 'users', username, 'session.json');

export async function saveSession(file: string, session: SavedSession): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = tempName(file);
  await writeFile(temp, `${JSON.stringify(session)}\n`, { mode: 0o600 });
  await rename(temp, file);
}

/**
 * The saved session for this server and user, if there is one still valid: a file that is not a
 * plain file of this user's readable by them only, or of another server or user, is not used; an
 * expired one is removed.
 */
export async function loadSession(file: string, server: string, username: string) {
  let saved: Partial<SavedSession>;
  try {
    const info = await lstat(file);
    if (!info.isFile() || (info.mode & 0o077) !== 0 || info.uid !== process.getuid?.()) return undefined;
    saved = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (saved?.server !== server || saved.username !== username || typeof saved.token !== 'string')
    return undefined;
  if (!(Date.parse(String(saved.expiresAt)) > Date.now() + 5_000)) {
    await forgetSession(file);
    return undefined;
  }
  return saved as SavedSession;
}

export async function forgetSession(file: string): Promise<void> {
  await rm(file, { force: true });
}

/** `securechat logout`: the kept session ended at the server (its token revoked) and its file removed. */
export async function endSavedSession(options: {
  keysDir: string;
  user?: string;
  server: string;
  ca?: string;
}): Promise<string> {
  if (!options.user) throw new CliError('whose session? pass --user NAME (or set SECURECHAT_USER)');
  const file = sessionFile(options.keysDir, options.user);
  const saved = await loadSession(file, options.server, options.user);
  await forgetSession(file);
  if (!saved) return `no saved session of ${options.user} at ${options.server}`;
  const http = nodeFetch({ ca: options.ca });
  try {
    const api = new Api({ server: options.server, ...http });
    api.token = saved.token;
    await api.logout().catch(() => undefined); // expired or revoked already: ended either way
  } finally {
    await http.close();
  }
  return `logged out: the saved session of ${options.user} is ended`;
}
