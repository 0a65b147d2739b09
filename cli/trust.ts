import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeyEnvelope } from '../src/crypto/envelope.js';
import { SIGNATURE_ALGORITHMS, type SignatureAlgorithm } from '../src/crypto/keys.js';

export type Fingerprints = Record<'encryption' | SignatureAlgorithm, string>;

interface KnownKeys {
  servers: Record<string, string>;
  users: Record<string, Fingerprints>;
}

interface ClientState {
  sig: SignatureAlgorithm;
  /** Envelopes received, by `chatId/epoch`: wrapped keys, useless without the private key. */
  envelopes: Record<string, KeyEnvelope>;
}

async function readJson<T>(file: string, fallback: T): Promise<T> {
  try {
    return { ...fallback, ...JSON.parse(await readFile(file, 'utf8')) };
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return fallback;
    throw new Error(`${file} is unreadable: ${(error as Error).message}`);
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, file);
}

export type TrustVerdict = 'new' | 'same' | 'changed';

/**
 * Trust on first use, like SSH's known_hosts: the server's key and each peer's key fingerprints are
 * pinned the first time they are seen (`<user>.known_keys.json` beside the key store); a changed key
 * is refused until the user accepts it with `trust`.
 */
export class TrustStore {
  private constructor(
    private readonly knownFile: string,
    private readonly stateFile: string,
    private known: KnownKeys,
    readonly state: ClientState,
  ) {}

  static async load(keysDir: string, username: string): Promise<TrustStore> {
    const base = path.join(keysDir, 'users', username);
    const knownFile = `${base}.known_keys.json`;
    const stateFile = `${base}.state.json`;
    const known = await readJson<KnownKeys>(knownFile, { servers: {}, users: {} });
    const state = await readJson<ClientState>(stateFile, { sig: 'rsa-pss-sha256', envelopes: {} });
    if (!SIGNATURE_ALGORITHMS.includes(state.sig)) state.sig = 'rsa-pss-sha256';
    return new TrustStore(knownFile, stateFile, known, state);
  }

  checkServer(origin: string, fingerprint: string): TrustVerdict {
    const pinned = this.known.servers[origin];
    return pinned === undefined ? 'new' : pinned === fingerprint ? 'same' : 'changed';
  }

  /** Re-reads the file before changing one entry, so two clients of one user do not undo each other's pins. */
  private async updateKnown(change: (known: KnownKeys) => void): Promise<void> {
    this.known = await readJson<KnownKeys>(this.knownFile, { servers: {}, users: {} });
    change(this.known);
    await writeJson(this.knownFile, this.known);
  }

  async pinServer(origin: string, fingerprint: string): Promise<void> {
    await this.updateKnown((known) => {
      known.servers[origin] = fingerprint;
    });
  }

  pinnedUser(username: string): Fingerprints | undefined {
    return this.known.users[username];
  }

  checkUser(username: string, fingerprints: Fingerprints): TrustVerdict {
    const pinned = this.known.users[username];
    if (!pinned) return 'new';
    const same = (Object.keys(fingerprints) as (keyof Fingerprints)[]).every(
      (k) => pinned[k] === fingerprints[k],
    );
    return same ? 'same' : 'changed';
  }

  async pinUser(username: string, fingerprints: Fingerprints): Promise<void> {
    await this.updateKnown((known) => {
      known.users[username] = fingerprints;
    });
  }

  async saveState(): Promise<void> {
    await writeJson(this.stateFile, this.state);
  }
}
