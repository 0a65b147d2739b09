/**
 * Transcript integrity (protocol.md): this installation's device id and counters, the fields of
 * each message it writes, and the three checks of each message it receives, kept per chat across
 * restarts (a {@link TranscriptStore}: the CLI's state.json, the page's IndexedDB).
 */
import type { Api } from './api.js';
import { sha256Hex } from './bytes.js';
import { messageSigningText, type PrevRef, type TranscriptFields } from './canonical.js';
import { headerOf, type MessageData, transcriptOf } from './message.js';
import { mergeChats } from './transcript-merge.js';
import {
  ChatChecks,
  type ChatTranscript,
  emptyChat,
  type Observed,
  type TranscriptWarning,
  type WarningChange,
} from './transcript-state.js';

export type { TranscriptWarning, WarningChange };

/** What an installation keeps: its device id, the highest counter reserved per chat, each chat's checks. */
export interface TranscriptSaved {
  device: string;
  counters: Record<string, number>;
  chats: Record<string, ChatTranscript>;
}

/** Where {@link TranscriptSaved} lives: read once at start, every change merged into what is stored. */
export interface TranscriptStore {
  loadTranscript(): TranscriptSaved | undefined;
  /** Applies `change` to the stored value (another process or tab may have written), atomically. */
  updateTranscript(change: (saved: TranscriptSaved | undefined) => TranscriptSaved): Promise<TranscriptSaved>;
}

/** In memory: for tests, the bench and a client that keeps nothing. */
export class MemoryTranscriptStore implements TranscriptStore {
  saved?: TranscriptSaved;
  loadTranscript() {
    return this.saved && structuredClone(this.saved);
  }
  async updateTranscript(change: (saved: TranscriptSaved | undefined) => TranscriptSaved) {
    this.saved = structuredClone(change(this.saved && structuredClone(this.saved)));
    return structuredClone(this.saved);
  }
}

/** 16 random bytes, base64url without padding. */
export function newDevice(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Lowercase hex SHA-256 of a message's signing input bytes: what `prev.hash` names. */
export function messageHash(data: Pick<MessageData, 'chatId' | 'sender' | 'message'>): Promise<string> {
  return sha256Hex(messageSigningText(headerOf(data), data.message));
}

/** What one received message did to its chat's checks. */
export interface Received {
  /** Messages of a gap that history returned, oldest first, already checked: show them too. */
  recovered: MessageData[];
  changes: WarningChange[];
  /** False for a version-1 message: "not covered by transcript checks". */
  covered: boolean;
}

export interface TranscriptOptions {
  api: Api;
  username: string;
  store: TranscriptStore;
  /** Whether a message's signature verifies (a gap's messages are checked before their fields count). */
  verify: (data: MessageData) => Promise<boolean>;
}

const PAGE = 1000;
/** Chats' checks are written at least every this many messages, and at once when a warning changes. */
const SAVE_EVERY = 50;
/** Warnings are written at once, then at most once a second while they keep changing. */
const SAVE_GAP_MS = 1000;

export class Transcript {
  private saved: TranscriptSaved;
  private queue: Promise<unknown> = Promise.resolve();
  private unsaved = 0;
  private lastFlush = 0;
  private flushTimer?: ReturnType<typeof setTimeout>;
  /** The device id this process made (no message of it can be in any history yet). */
  private madeDevice?: string;
  /** The counter reserved for each post (`chatId\nid`) this process is still trying to send. */
  private readonly reserved = new Map<string, number>();
  /** Chats changed since the last flush, and the warnings this process resolved in them. */
  private readonly dirty = new Set<string>();
  private readonly resolved = new Map<string, Set<string>>();

  constructor(private readonly options: TranscriptOptions) {
    this.saved = options.store.loadTranscript() ?? { device: '', counters: {}, chats: {} };
  }

  /** One at a time: checks are made in the order messages arrive, reservations never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A chat's checks, to change: only chats changed since the last flush are written. */
  private chat(chatId: string): ChatChecks {
    this.saved.chats[chatId] ??= emptyChat();
    this.dirty.add(chatId);
    return new ChatChecks(chatId, this.saved.chats[chatId]);
  }

  /** The open warnings of a chat (kept across restarts). */
  warnings(chatId: string): TranscriptWarning[] {
    return Object.values(this.saved.chats[chatId]?.warnings ?? {});
  }

  /**
   * A change of warnings written now, or (a server sending change after change) within a second:
   * a flood of them costs one write a second, not one each. `flush` (at close) writes what waits.
   */
  private async flushSoon(): Promise<void> {
    if (Date.now() - this.lastFlush >= SAVE_GAP_MS) return this.flush();
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.serial(() => this.flush()).catch(() => undefined);
    }, SAVE_GAP_MS);
    (this.flushTimer as { unref?: () => void }).unref?.();
  }

  /** Writes the chats' checks (merged: each chat as this client has it, counters and device kept). */
  flush(): Promise<void> {
    this.unsaved = 0;
    this.lastFlush = Date.now();
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const chats: Record<string, ChatTranscript> = {};
    for (const id of this.dirty) chats[id] = this.saved.chats[id];
    const resolved = new Map(this.resolved);
    this.dirty.clear();
    this.resolved.clear();
    return this.options.store
      .updateTranscript((stored) => ({
        device: stored?.device || this.saved.device,
        counters: {
          ...stored?.counters,
          ...this.saved.counters,
          ...higher(stored?.counters, this.saved.counters),
        },
        chats: mergeChats(stored?.chats, chats, resolved),
      }))
      .then((stored) => {
        this.saved.device = stored.device;
      });
  }

  /**
   * Checks one received message whose signature verified (`verified`): a gap before it is fetched
   * from history first and checked in order. One whose signature fails is not a message of the
   * chat's (anyone can send bytes with a seq on them): it is left out of the checks, else a forged
   * seq could move this client's baseline and its `prev` past the chat's real numbering.
   */
  receive(data: MessageData, verified: boolean): Promise<Received> {
    const covered = transcriptOf(data?.message ?? ({} as MessageData['message'])) !== undefined;
    if (!verified) return Promise.resolve({ recovered: [], changes: [], covered });
    return this.serial(async () => {
      const checks = this.chat(data.chatId);
      const recovered: MessageData[] = [];
      const gap = checks.gap(data.seq);
      if (gap && !checks.seen(data.seq)) await this.fill(checks, gap, recovered);
      await this.observe(checks, data, verified);
      for (const c of checks.changes)
        if (c.status === 'resolved') {
          const keys = this.resolved.get(data.chatId) ?? new Set<string>();
          this.resolved.set(data.chatId, keys.add(c.warning.key));
        }
      if (++this.unsaved >= SAVE_EVERY) await this.flush();
      else if (checks.changes.length > 0) await this.flushSoon();
      return { recovered, changes: checks.changes, covered };
    });
  }

  private async observe(checks: ChatChecks, data: MessageData, verified: boolean): Promise<void> {
    const fields = verified ? transcriptOf(data.message) : undefined;
    if (!verified) return;
    const m: Observed = {
      seq: data.seq,
      sender: data.sender,
      id: data.message.id,
      hash: await messageHash(data),
      transcript: fields,
    };
    const compare = checks.prevToCompare(m);
    const own = compare === undefined ? undefined : await this.ownHash(checks, compare);
    checks.observe(m, own);
  }

  /** The hash of this client's copy of message `seq`: kept, or fetched (undefined if withheld). */
  private async ownHash(checks: ChatChecks, seq: number): Promise<string | undefined> {
    const kept = checks.state.hashes[seq];
    if (kept !== undefined || checks.withheldAt(seq)) return kept;
    const page = await this.options.api.listMessages(checks.chatId, { after: seq - 1, limit: 1 });
    const found = page?.messages?.[0];
    return found?.seq === seq ? messageHash(found) : undefined;
  }

  /** Fetches the seqs [from, to] from history and checks them; those it does not return are withheld. */
  private async fill(checks: ChatChecks, [from, to]: [number, number], recovered: MessageData[]) {
    let after = from - 1;
    while (after < to) {
      const page = await this.options.api.listMessages(checks.chatId, {
        after,
        limit: Math.min(PAGE, to - after),
      });
      const messages = Array.isArray(page?.messages) ? (page.messages as MessageData[]) : [];
      let moved = false;
      for (const m of messages) {
        if (!Number.isSafeInteger(m?.seq) || m.seq <= after || m.seq > to || m.chatId !== checks.chatId)
          continue;
        checks.withheld(after + 1, m.seq - 1);
        let ok = false;
        try {
          ok = await this.options.verify(m);
        } catch {
          ok = false;
        }
        // one that does not verify is shown (refused) but not taken in: see receive
        if (ok) await this.observe(checks, m, ok);
        else checks.refusedAt(m.seq);
        recovered.push(m);
        after = m.seq;
        moved = true;
      }
      if (!moved) break;
    }
    checks.withheld(after + 1, to);
    checks.askedUpTo(to);
  }

  /** This installation's device id, made and saved on first use. */
  private async device(): Promise<string> {
    if (this.saved.device) return this.saved.device;
    const made = newDevice();
    this.madeDevice = made;
    const stored = await this.options.store.updateTranscript((s) => ({
      device: s?.device || made,
      counters: s?.counters ?? {},
      chats: s?.chats ?? {},
    }));
    this.saved.device = stored.device;
    return stored.device;
  }

  /**
   * The fields of the next message this device writes to the chat: its counter saved before it
   * is used (a crash leaves a gap, never a repeat) and `prev` the latest message received. A
   * counter is never given back nor used under another id: every try of one post (`id`) gets the
   * same one, and a post refused for good leaves a gap (which the others are right to see).
   */
  next(chatId: string, id?: string): Promise<TranscriptFields> {
    return this.serial(async () => {
      const device = await this.device();
      const state = this.saved.chats[chatId];
      const prev = state ? new ChatChecks(chatId, state).prevRef() : null;
      const again = id === undefined ? undefined : this.reserved.get(`${chatId}\n${id}`);
      if (again !== undefined) return { device, counter: again, prev };
      const me = `${this.options.username}\n${device}`;
      const seen = this.saved.chats[chatId]?.devices[me]?.high ?? 0;
      const lost = this.saved.counters[chatId] === undefined && seen === 0 && device !== this.madeDevice;
      const known = lost ? await this.highestInHistory(chatId, device) : (this.saved.counters[chatId] ?? 0);
      let counter = 0;
      const stored = await this.options.store.updateTranscript((s) => {
        counter = Math.max(s?.counters?.[chatId] ?? 0, known, seen) + 1;
        return {
          device: s?.device || device,
          counters: { ...s?.counters, [chatId]: counter },
          chats: s?.chats ?? {},
        };
      });
      this.saved.counters = { ...stored.counters };
      if (id !== undefined) this.reserved.set(`${chatId}\n${id}`, counter);
      return { device, counter, prev };
    });
  }

  /**
   * This user joined the chat (its own action, never an event from the server): a new baseline,
   * since history is readable only from the new membership on (a leave and a re-join skip epochs).
   */
  joined(chatId: string): Promise<void> {
    return this.serial(async () => {
      this.chat(chatId).restart();
      await this.flush();
    });
  }

  /** Post `id` was stored (or refused as a duplicate): its counter is no longer kept for a retry. */
  sent(chatId: string, id: string): void {
    this.reserved.delete(`${chatId}\n${id}`);
  }

  /**
   * A post naming message `seq` as its prev was refused (400 INVALID_PREV: the chat has no such
   * message yet): the newest kept message below it that history returns as this client has it,
   * or null; nothing from `seq` on is named again until it is confirmed.
   */
  prevAfterRefusal(chatId: string, seq: number): Promise<PrevRef | null> {
    return this.serial(async () => {
      const checks = this.chat(chatId);
      checks.unconfirm(seq);
      let found: PrevRef | null = null;
      for (let tries = 0, ref = checks.prevRef(); ref && tries < 3; tries++, ref = checks.prevRef()) {
        const page = await this.options.api.listMessages(chatId, { after: ref.seq - 1, limit: 1 });
        const m = page?.messages?.[0] as MessageData | undefined;
        if (m?.seq === ref.seq && (await messageHash(m)) === ref.hash) {
          found = ref;
          break;
        }
        checks.unconfirm(ref.seq);
      }
      await this.flush();
      return found;
    });
  }

  /** A device that lost its counters finds its highest number for the chat in the chat's history. */
  private async highestInHistory(chatId: string, device: string): Promise<number> {
    let highest = 0;
    for (let after = 0, pages = 0; pages < 1000; pages++) {
      const page = await this.options.api.listMessages(chatId, { after, limit: PAGE });
      const messages = Array.isArray(page?.messages) ? (page.messages as MessageData[]) : [];
      if (messages.length === 0) break;
      for (const m of messages) {
        const c = m?.message?.counter;
        if (m?.sender !== this.options.username || m.message.device !== device) continue;
        // only a message whose signature verifies counts (history could show any number), and one
        // below 2^53 - 1 (the next must still be a counter)
        if (!Number.isSafeInteger(c) || (c as number) <= highest || (c as number) >= Number.MAX_SAFE_INTEGER)
          continue;
        if (await this.options.verify(m).catch(() => false)) highest = c as number;
      }
      const last = messages.at(-1)?.seq;
      if (!Number.isSafeInteger(last) || (last as number) <= after) break;
      after = last as number;
    }
    return highest;
  }
}

function higher(a: Record<string, number> | undefined, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(a ?? {})) if (v > (b[k] ?? 0)) out[k] = v;
  return out;
}
