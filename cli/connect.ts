import { readFile } from 'node:fs/promises';
import { promptHidden, readStdin } from '../src/util/prompt.js';
import { CliError } from './errors.js';

/** A password over plain http:// may cross the network only to this machine, unless --insecure. */
export function checkTransport(server: string, insecure: boolean): void {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return; // the Api says what is wrong with it
  }
  if (url.protocol !== 'http:') return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (loopback) return;
  if (!insecure)
    throw new CliError(
      `refusing to send your password over plain http:// to ${host}: use https:// (with --ca FILE for the server's own certificate), or pass --insecure`,
    );
  console.error(
    `securechat: WARNING: --insecure: your password and messages' metadata cross the network to ${host} unencrypted`,
  );
}

export async function readCa(file: string | undefined): Promise<string | undefined> {
  if (!file) return undefined;
  return readFile(file, 'utf8').catch((error) => {
    throw new CliError(`--ca ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
}

/** A new password: asked twice on a terminal, or the first line of standard input. */
export async function newPassword(user: string, fromStdin: boolean): Promise<string> {
  if (fromStdin) return (await readStdin()).split(/\r?\n/)[0];
  if (!process.stdin.isTTY)
    throw new CliError('no terminal to prompt for the password on; use --password-stdin');
  const password = await promptHidden(`New password for ${user}: `);
  if ((await promptHidden('Again: ')) !== password) throw new CliError('the passwords differ');
  return password;
}
