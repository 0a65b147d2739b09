/**
 * Where an installation's transcript state lives (protocol.md, "Transcript integrity"): its device
 * id, the highest counter it reserved per chat, and each chat's checks; and how one process's
 * changes are written over what another process (a CLI, a tab) saved meanwhile.
 */
import { mergeChats } from './transcript-merge.js';
import type { ChatTranscript } from './transcript-types.js';

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

/**
 * What is stored, with this process's changed `chats` (and the warnings it `resolved` in them)
 * written over it: the stored device kept, each chat's counter the higher of the two.
 */
export function savedOver(
  stored: TranscriptSaved | undefined,
  mine: TranscriptSaved,
  chats: Record<string, ChatTranscript>,
  resolved: Map<string, Set<string>>,
): TranscriptSaved {
  return {
    device: stored?.device || mine.device,
    counters: {
      ...stored?.counters,
      ...mine.counters,
      ...higher(stored?.counters, mine.counters),
    },
    chats: mergeChats(stored?.chats, chats, resolved),
  };
}

function higher(a: Record<string, number> | undefined, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(a ?? {})) if (v > (b[k] ?? 0)) out[k] = v;
  return out;
}
