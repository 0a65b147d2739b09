/**
 * The shape of one chat's transcript checks (protocol.md, "Transcript integrity"): plain JSON,
 * saved per chat so that a warning outlives a restart, and the warnings the checks give.
 */
import type { PrevRef } from './canonical.js';

/** How many recent hashes (by seq) and message ids (by counter) a chat's state keeps. */
export const KEPT = 1024;
/** How many devices of one sender a chat's state keeps (the least recently heard is forgotten). */
export const MAX_DEVICES = 32;
/** How many withheld ranges a chat keeps apart; past it, the newest two are said as one span. */
export const MAX_WITHHELD = 64;

export type WarningKind = 'withheld' | 'missing' | 'repeat' | 'fork' | 'replay';

/** One warning of one chat, shown in that chat until it is resolved (never as a message). */
export interface TranscriptWarning {
  /** Stable within the chat: the same problem keeps its key while its text changes. */
  key: string;
  chatId: string;
  kind: WarningKind;
  text: string;
  seq?: number;
  /** For 'withheld': the last seq of the range that starts at `seq`. */
  to?: number;
  /** For 'withheld': a span with received messages in it too (ranges past {@link MAX_WITHHELD} merged). */
  partial?: boolean;
  sender?: string;
  counter?: number;
  /** For 'missing': how many are still missing. */
  count?: number;
}

/** What a step changed: a warning opened, its text changed (a count), or resolved. */
export interface WarningChange {
  status: 'open' | 'changed' | 'resolved';
  warning: TranscriptWarning;
}

interface DeviceState {
  /** Highest counter seen. */
  high: number;
  /** Counters skipped, as inclusive ranges [from, to], oldest first. */
  missing: [number, number][];
  /** Message id by counter, the most recent {@link KEPT}. */
  ids: Record<string, string>;
  /** The seq it was last heard at (which device of a sender to forget first). */
  at?: number;
}

export interface ChatTranscript {
  /** The first seq this client received in the chat: its checks start there. */
  first: number | null;
  /** The highest seq received (0: none). */
  last: number;
  /**
   * The highest seq known to be the chat's: received with no unconfirmed gap before it, or named
   * by a verified message's `prev` (absent in old state: `last`). `prev` never goes past it, so one
   * message with a forged huge seq cannot lock this client's posts out (400 INVALID_PREV).
   */
  confirmed?: number;
  /** The highest seq a gap's history fetch has covered: a later gap starts after it, never again from `last`. */
  asked?: number;
  /** Hash of each recent message's signing input, by seq. */
  hashes: Record<string, string>;
  /** Seqs whose message was refused (a signature that did not verify yet): taken in when one does. */
  refused?: number[];
  /** The seq of each recent message, by `sender\nid` (a message shown again at another seq is a replay). */
  seqs?: Record<string, number>;
  /** By `sender\ndevice`. */
  devices: Record<string, DeviceState>;
  /** Open warnings, by key. */
  warnings: Record<string, TranscriptWarning>;
}

export const emptyChat = (): ChatTranscript => ({
  first: null,
  last: 0,
  confirmed: 0,
  hashes: {},
  devices: {},
  warnings: {},
});

/** A received message as the checks see it. */
export interface Observed {
  seq: number;
  sender: string;
  id: string;
  /** Lowercase hex SHA-256 of its signing input. */
  hash: string;
  /** Only a verified version-2 message's fields are checked (the server could forge the rest). */
  transcript?: { device: string; counter: number; prev: PrevRef | null };
}
