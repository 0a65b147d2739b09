/**
 * Transcript integrity (protocol.md): this installation's device id and counters, the fields of
 * each message it writes, and the three checks of each message it receives, kept per chat across
 * restarts (a {@link TranscriptStore}: the CLI's state.json, the page's IndexedDB).
 */
import type { Api } from './api.js';
import type { PrevRef, TranscriptFields } from './canonical.js';
import { type MessageData, transcriptOf } from './message.js';
import { confirmedPrev, fillGap, highestInHistory, messageHash, ownHash } from './transcript-history.js';
import { ChatChecks } from './transcript-state.js';
import { newDevice, savedOver, type TranscriptSaved, type TranscriptStore } from './transcript-store.js';
import {
  type ChatTranscript,
  emptyChat,
  type Observed,
  type TranscriptWarning,
  type WarningChange,
} from './transcript-types.js';

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

/** Chats' checks are written at least every this many messages, and at once when a warning changes. */
const SAVE_EVERY = 50;
/** Warnings are written at once, then at most once a second while they keep changing. */
const SAVE_GAP_MS = 1000;

export class Transcript {
  private saved: TranscriptSaved;
  private queue: Promise<unknown> = Promise.resolve();
  private unsaved = 0;
  /** When a change of warnings was last written (other saves, a join's, do not count). */
  private lastWarningSave = 0;
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
   * Only warning saves count: the first warning after a join's save is written at once, so that
   * a reload within that second does not lose it.
   */
  private async flushSoon(): Promise<void> {
    if (Date.now() - this.lastWarningSave >= SAVE_GAP_MS) {
      this.lastWarningSave = Date.now();
      return this.flush();
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      this.lastWarningSave = Date.now();
      void this.serial(() => this.flush()).catch(() => undefined);
    }, SAVE_GAP_MS);
    (this.flushTimer as { unref?: () => void }).unref?.();
  }

  /** Writes the chats' checks (merged: each chat as this client has it, counters and device kept). */
  flush(): Promise<void> {
    this.unsaved = 0;
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const chats: Record<string, ChatTranscript> = {};
    for (const id of this.dirty) chats[id] = this.saved.chats[id];
    const resolved = new Map(this.resolved);
    this.dirty.clear();
    this.resolved.clear();
    return this.options.store
      .updateTranscript((stored) => savedOver(stored, this.saved, chats, resolved))
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
      if (gap && !checks.seen(data.seq))
        await fillGap(this.options.api, this.options.verify, checks, gap, recovered, (m) =>
          this.observe(checks, m, true),
        );
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
    const own = compare === undefined ? undefined : await ownHash(this.options.api, checks, compare);
    checks.observe(m, own);
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
      const { api, verify, username } = this.options;
      const known = lost
        ? await highestInHistory(api, verify, username, chatId, device)
        : (this.saved.counters[chatId] ?? 0);
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
      const found = await confirmedPrev(this.options.api, checks);
      await this.flush();
      return found;
    });
  }
}
