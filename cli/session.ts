import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  Api,
  Client,
  describeChange,
  describeInvitedAgain,
  escapeControls,
  type FormerKey,
  importEncryptionKey,
  importUserKeys,
  type SignatureAlgorithm,
  shortId,
  type TrustHints,
} from '../src/client/index.js';
import { nodeFetch, nodeSignatures } from '../src/client/node/index.js';
import { readKeyStore } from '../src/crypto/keystore.js';
import { CliError } from './errors.js';
import { TrustStore } from './trust.js';

export interface SessionOptions {
  server: string;
  username: string;
  /** The password to log in with, or `token`: a session `securechat login` kept, carried on. */
  password?: string;
  token?: string;
  keysDir: string;
  signal?: AbortSignal;
  ca?: string;
  /**
   * For `fingerprint` and `trust --server`: a changed server key is recorded in `serverChange`
   * instead of refused, so that the user can compare and accept it. Nothing is unwrapped meanwhile.
   */
  inspectServerKey?: boolean;
}

/** The commands that do what a refusal asks. */
const CLI_HINTS: TrustHints = {
  trustServer: 'run `securechat trust --server FINGERPRINT`',
  showServer: 'see `securechat fingerprint`',
  compare: (name) => `\`fingerprint ${name}\``,
  trust: (name) => `\`trust ${name} FINGERPRINT\``,
};

/**
 * The CLI's user: the client library's {@link Client} over a key store folder, pins and state
 * kept on disk beside it (trust.ts), and the signature setting kept until changed.
 */
export class Session extends Client {
  /** Where notices of member changes and refused commits go (the command's or the menu's output). */
  notice: (line: string, warn?: boolean) => void = () => {};

  private constructor(
    options: ConstructorParameters<typeof Client>[0],
    /** The pins and the state (epochs, signature setting) kept on disk. */
    readonly store: TrustStore,
  ) {
    super(options);
  }

  static async open(options: SessionOptions): Promise<Session> {
    const dir = path.join(options.keysDir, 'users', options.username);
    let pems: Awaited<ReturnType<typeof readKeyStore>>;
    try {
      pems = await readKeyStore(dir);
    } catch (error) {
      throw new CliError(
        `no readable key store for ${options.username} in ${dir} (${(error as { code?: string }).code ?? error}); ` +
          'pass --keys DIR (or set SECURECHAT_KEYS_DIR) to the folder that holds users/<name>/',
      );
    }
    try {
      new URL(options.server);
    } catch {
      throw new CliError(`--server ${options.server} is not a URL (e.g. http://127.0.0.1:8080)`);
    }
    const provider = nodeSignatures();
    const trust = await TrustStore.load(options.keysDir, options.username);
    const http = nodeFetch({ ca: options.ca });
    const api = new Api({ server: options.server, signal: options.signal, ...http });
    const notify = (line: string, warn?: boolean) => session.notice(line, warn);
    const session: Session = new Session(
      {
        // members mode: every change of members shown with who made it; a refused commit said why
        onMemberChange: (c) => notify(`* [${shortId(c.chatId)}] ${describeChange(c, options.username)}`),
        onCommitRefused: (chatId, p, reason) =>
          notify(
            `!! [${shortId(chatId)}] not making the key of epoch ${escapeControls(String(p.epoch))}: ${reason}`,
            true,
          ),
        // an invitation a leave or rotation dropped, made again by this client (or why not)
        onInvitedAgain: (chatId, invitees, outcome) =>
          notify(
            `${outcome.error ? '!!' : '*'} [${shortId(chatId)}] ${describeInvitedAgain(invitees, outcome)}`,
            outcome.error !== undefined,
          ),
        commitAlgorithm: () => trust.state.sig,
        api,
        username: options.username,
        keys: { ...(await importUserKeys(pems, provider)), former: await formerKeys(dir) },
        provider,
        pins: trust,
        epochs: trust,
        transcripts: trust,
        inspectServerKey: options.inspectServerKey,
        hints: CLI_HINTS,
        onClose: () => http.close(),
      },
      trust,
    );
    try {
      if (options.token !== undefined) await session.resume(options.token);
      else await session.start(options.password ?? '');
      await session.checkOwnKeys().catch(async (error) => {
        if (options.token === undefined)
          await session.close(); // a new login: logged out again
        else await session.detach();
        if (!String((error as Error)?.message).startsWith('these are not')) throw error;
        throw new CliError(
          `${(error as Error).message}: the key store in ${dir} is another's; pass --keys DIR (or set SECURECHAT_KEYS_DIR) to the folder that holds your own users/${options.username}/`,
        );
      });
    } catch (error) {
      await http.close();
      throw error;
    }
    return session;
  }

  get sig(): SignatureAlgorithm {
    return this.store.state.sig;
  }

  async setSig(sig: SignatureAlgorithm): Promise<void> {
    this.store.state.sig = sig;
    await this.store.saveState();
  }

  override send(chatId: string, text: string, alg: SignatureAlgorithm = this.sig) {
    return super.send(chatId, text, alg);
  }
}

/**
 * The encryption keys `keys replace` (or `register --reset`) moved aside into `dir/replaced-<time>/`,
 * newest first, each with the time it was replaced (from the folder's name): the envelopes this
 * device kept from before the change were wrapped for them. A folder without a readable key or
 * time is passed over.
 */
async function formerKeys(dir: string): Promise<FormerKey[]> {
  const aside = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && e.name.startsWith('replaced-'))
    .map((e) => e.name)
    .sort()
    .reverse();
  const keys: FormerKey[] = [];
  for (const name of aside) {
    const replacedAt = replacedTime(name);
    const pem = await readFile(path.join(dir, name, 'encryption.key.pem'), 'utf8').catch(() => undefined);
    const key = pem === undefined ? undefined : await importEncryptionKey(pem).catch(() => undefined);
    if (key && replacedAt !== undefined) keys.push({ key, replacedAt });
  }
  return keys;
}

/** `replaced-2026-12-07T23-55-00-123Z` (as cli/commands/account.ts names it) → its time in ms. */
function replacedTime(name: string): number | undefined {
  const m = /^replaced-(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/.exec(name);
  const ms = m ? Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z`) : Number.NaN;
  return Number.isNaN(ms) ? undefined : ms;
}
