import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  checkUsername,
  type EpochStore,
  type Fingerprints,
  type KeyEnvelope,
  type PinStore,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  sameFingerprints,
  type TranscriptSaved,
  type TranscriptStore,
  withKeySets,
} from '../src/client/index.js';
import { tempName, withFileLock } from './filelock.js';

/** The files on disk keep plain objects; in memory every key that came from outside is a Map key. */
interface KnownKeysFile {
  servers: Record<string, string>;
  users: Record<string, Fingerprints>;
  /** Accounts over time: every key set trusted as each user's at some time (`knownKeySets`). */
  keySets?: Record<string, Fingerprints[]>;
}

interface ClientStateFile {
  sig: SignatureAlgorithm;
  /** The menu's current chat when it last changed, to carry on there after a new login. */
  chat?: string;
  /** Envelopes received, by `chatId/epoch`: wrapped keys, useless without the private key. */
  envelopes: Record<string, KeyEnvelope>;
  /** The highest epoch seen per chat: an envelope for a lower one is refused, even after a restart. */
  epochs: Record<string, number>;
  /** Transcript integrity: this installation's device id, its counters, each chat's checks. */
  transcript?: TranscriptSaved;
}

interface ClientState {
  sig: SignatureAlgorithm;
  chat?: string;
  envelopes: Map<string, KeyEnvelope>;
  epochs: Map<string, number>;
  transcript?: TranscriptSaved;
}

const toMap = <T>(value: unknown): Map<string, T> =>
  new Map(value && typeof value === 'object' ? (Object.entries(value) as [string, T][]) : []);

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8'));
    if (!parsed || typeof parsed !== 'object') throw new Error('not a JSON object');
    return parsed;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw new Error(`${file} is unreadable: ${(error as Error).message}`);
  }
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = tempName(file); // review A9: never shared by two saves
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, file);
}

/**
 * Moves `users/<name>.known_keys.json` and `users/<name>.state.json` (where clients before this one
 * kept them, beside other users' folders) into the user's own folder, once.
 */
async function migrate(oldFile: string, newFile: string): Promise<void> {
  // A user named `<name>.known_keys.json` has a folder there: that is theirs, not a file to move.
  const found = await stat(oldFile).catch(() => undefined);
  if (!found?.isFile()) return;
  const old = await readJson(oldFile);
  if (old === undefined) return;
  if ((await readJson(newFile)) === undefined) await writeJson(newFile, old);
  await rm(oldFile, { force: true });
}

/**
 * Trust on first use, like SSH's known_hosts: the server's key and each peer's key fingerprints are
 * pinned the first time they are seen (`known_keys.json` in the user's own key store folder); a
 * changed key is refused until the user accepts it with `trust`. `state.json` beside it keeps the
 * signature setting, the envelopes received and the highest epoch seen per chat.
 */
export class TrustStore implements PinStore, EpochStore, TranscriptStore {
  private constructor(
    private readonly knownFile: string,
    private readonly stateFile: string,
    private servers: Map<string, string>,
    private users: Map<string, Fingerprints>,
    private keySets: Map<string, Fingerprints[]>,
    readonly state: ClientState,
  ) {}

  static async load(keysDir: string, username: string): Promise<TrustStore> {
    const dir = path.join(keysDir, 'users', username);
    const knownFile = path.join(dir, 'known_keys.json');
    const stateFile = path.join(dir, 'state.json');
    await migrate(`${dir}.known_keys.json`, knownFile);
    await migrate(`${dir}.state.json`, stateFile);
    const known = (await readJson(knownFile)) ?? {};
    const saved = (await readJson(stateFile)) ?? {};
    const sig = SIGNATURE_ALGORITHMS.includes(saved.sig as SignatureAlgorithm)
      ? (saved.sig as SignatureAlgorithm)
      : 'rsa-pss-sha256';
    const state: ClientState = {
      sig,
      chat: typeof saved.chat === 'string' && /^[0-9a-f-]{36}$/.test(saved.chat) ? saved.chat : undefined,
      envelopes: toMap(saved.envelopes),
      epochs: toMap(saved.epochs),
      transcript: saved.transcript as TranscriptSaved | undefined,
    };
    // Older state files kept envelopes only: the highest epoch seen is the highest one kept.
    for (const envelope of state.envelopes.values()) {
      if ((state.epochs.get(envelope.chatId) ?? 0) < envelope.epoch)
        state.epochs.set(envelope.chatId, envelope.epoch);
    }
    return new TrustStore(
      knownFile,
      stateFile,
      toMap(known.servers),
      toMap(known.users),
      toMap(known.keySets),
      state,
    );
  }

  pinnedServer(origin: string): string | undefined {
    return this.servers.get(origin);
  }

  /** Re-reads the file before changing one entry, so two clients of one user do not undo each other's pins. */
  private async updateKnown(change: () => void): Promise<void> {
    await this.serialized(() => withFileLock(this.knownFile, () => this.updateKnownLocked(change)));
  }

  /**
   * Review A9: one read-merge-write at a time in this process (a chain), and across processes
   * (the lock file in cli/filelock.ts).
   */
  private queue: Promise<unknown> = Promise.resolve();
  private serialized(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async updateKnownLocked(change: () => void): Promise<void> {
    const known = (await readJson(this.knownFile)) ?? {};
    this.servers = toMap(known.servers);
    this.users = toMap(known.users);
    this.keySets = toMap(known.keySets);
    change();
    await writeJson(this.knownFile, {
      servers: Object.fromEntries(this.servers),
      users: Object.fromEntries(this.users),
      keySets: Object.fromEntries(this.keySets),
    } satisfies KnownKeysFile);
  }

  async pinServer(origin: string, fingerprint: string): Promise<void> {
    await this.updateKnown(() => this.servers.set(origin, fingerprint));
  }

  pinnedUser(username: string): Fingerprints | undefined {
    return this.users.get(checkUsername(username, 'username')); // review A1: only valid names
  }

  /** Whether `fingerprints` are new for `username`, the pinned ones, or changed. */
  checkUser(username: string, fingerprints: Fingerprints): 'new' | 'same' | 'changed' {
    const pinned = this.pinnedUser(username);
    if (!pinned) return 'new';
    return sameFingerprints(pinned, fingerprints) ? 'same' : 'changed';
  }

  async pinUser(username: string, fingerprints: Fingerprints): Promise<void> {
    checkUsername(username, 'username');
    await this.updateKnown(() => this.users.set(username, fingerprints));
  }

  knownKeySets(username: string): readonly Fingerprints[] {
    const sets = this.keySets.get(checkUsername(username, 'username'));
    return Array.isArray(sets) ? sets : [];
  }

  async addKnownKeySets(username: string, sets: readonly Fingerprints[]): Promise<void> {
    checkUsername(username, 'username');
    await this.updateKnown(() => this.keySets.set(username, withKeySets(this.knownKeySets(username), sets)));
  }

  highestEpoch(chatId: string): number | undefined {
    return this.state.epochs.get(chatId);
  }

  envelope(chatId: string, epoch: number): KeyEnvelope | undefined {
    return this.state.envelopes.get(`${chatId}/${epoch}`);
  }

  /** Keeps the envelope and, if higher, its epoch; writes the state file when either is new. */
  async record(envelope: KeyEnvelope): Promise<void> {
    const id = `${envelope.chatId}/${envelope.epoch}`;
    let changed = false;
    if ((this.state.epochs.get(envelope.chatId) ?? 0) < envelope.epoch) {
      this.state.epochs.set(envelope.chatId, envelope.epoch);
      changed = true;
    }
    if (!this.state.envelopes.has(id)) {
      this.state.envelopes.set(id, envelope);
      changed = true;
    }
    if (changed) await this.saveState();
  }

  /** Merges with the file first (envelopes kept, the higher epoch wins), for two clients of one user. */
  async saveState(): Promise<void> {
    await this.serialized(() => withFileLock(this.stateFile, () => this.saveStateLocked()));
  }

  loadTranscript(): TranscriptSaved | undefined {
    return this.state.transcript;
  }

  /** Changes the transcript state as the file has it now (another client of this user may have written). */
  async updateTranscript(change: (saved: TranscriptSaved | undefined) => TranscriptSaved) {
    await this.serialized(() => withFileLock(this.stateFile, () => this.saveStateLocked(change)));
    return this.state.transcript as TranscriptSaved;
  }

  private async saveStateLocked(
    change?: (saved: TranscriptSaved | undefined) => TranscriptSaved,
  ): Promise<void> {
    const saved = (await readJson(this.stateFile)) ?? {};
    const transcript = saved.transcript as TranscriptSaved | undefined;
    this.state.transcript = change ? change(transcript) : transcript;
    for (const [id, envelope] of toMap<KeyEnvelope>(saved.envelopes))
      if (!this.state.envelopes.has(id)) this.state.envelopes.set(id, envelope);
    for (const [chatId, epoch] of toMap<number>(saved.epochs))
      if (Number.isSafeInteger(epoch) && epoch > (this.state.epochs.get(chatId) ?? 0))
        this.state.epochs.set(chatId, epoch);
    await writeJson(this.stateFile, {
      sig: this.state.sig,
      chat: this.state.chat,
      envelopes: Object.fromEntries(this.state.envelopes),
      epochs: Object.fromEntries(this.state.epochs),
      transcript: this.state.transcript,
    } satisfies ClientStateFile);
  }
}
